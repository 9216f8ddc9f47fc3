"""One-page HTML reports an accountant can open from disk: no server, no JS build step.

Why hand-built HTML with `html.escape`: the page is one table and one chart; a template
engine would be a dependency for twenty lines. Every value from a record passes through
`escape`, so a customer name cannot inject markup. The table sorts on a header click
with a few lines of inline script; the chart is inline SVG (discrepancies by kind,
stacked by age), so the file works offline and prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any, Final

from .engine.daily import DailyReport
from .engine.deferred_status import DeferredStatus
from .engine.reconcile import KINDS, Discrepancy, Reconciled

__all__ = ["AGE_BUCKETS", "age_bucket", "daily_page", "reconcile_page"]

AGE_BUCKETS: Final = ("under 1 day", "1-7 days", "over 7 days", "unknown")
_COLOURS: Final = ("#f4a261", "#e76f51", "#9d0208", "#8ecae6")
_STYLE: Final = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:4px 6px;
text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#eee;cursor:pointer}
td.num{text-align:right;font-variant-numeric:tabular-nums}.queued{color:#666}
"""
_SORT: Final = """
document.querySelectorAll('th').forEach((th,i)=>th.onclick=()=>{
const b=th.closest('table').tBodies[0],r=[...b.rows],d=th.dataset.d=th.dataset.d=='1'?'-1':'1';
r.sort((x,y)=>x.cells[i].innerText.localeCompare(y.cells[i].innerText,undefined,{numeric:true})*d);
r.forEach(x=>b.appendChild(x));});
"""


def age_bucket(d: Discrepancy, now: datetime) -> str:
    if d.since is None:
        return AGE_BUCKETS[3]
    days = (now - d.since).total_seconds() / 86400
    if days < 1:
        return AGE_BUCKETS[0]
    return AGE_BUCKETS[1] if days <= 7 else AGE_BUCKETS[2]


def _chart(found: Sequence[Discrepancy], now: datetime) -> str:
    kinds = [k for k in KINDS if any(d.kind == k for d in found)]
    kinds += sorted({d.kind for d in found} - set(kinds))
    if not kinds:
        return "<p>No discrepancies.</p>"
    counts = {(k, b): 0 for k in kinds for b in AGE_BUCKETS}
    for d in found:
        counts[d.kind, age_bucket(d, now)] += 1
    top = max(sum(counts[k, b] for b in AGE_BUCKETS) for k in kinds)
    bar, gap, width, left = 22, 8, 360, 170
    height = len(kinds) * (bar + gap) + 40
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 60}" '
        f'height="{height}" role="img" aria-label="discrepancies by kind and age">'
    )
    parts = [svg]
    for row, kind in enumerate(kinds):
        y = row * (bar + gap)
        parts.append(f'<text x="{left - 6}" y="{y + 16}" text-anchor="end">{escape(kind)}</text>')
        x = float(left)
        for bucket, colour in zip(AGE_BUCKETS, _COLOURS, strict=True):
            n = counts[kind, bucket]
            if n:
                w = width * n / top
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}">'
                    f"<title>{escape(kind)}, {bucket}: {n}</title></rect>"
                )
                x += w
        total = sum(counts[kind, b] for b in AGE_BUCKETS)
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 16}">{total}</text>')
    y = len(kinds) * (bar + gap) + 12
    for i, (bucket, colour) in enumerate(zip(AGE_BUCKETS, _COLOURS, strict=True)):
        parts.append(f'<rect x="{left + i * 110}" y="{y}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{left + i * 110 + 16}" y="{y + 11}">{bucket}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _rows(found: Sequence[Discrepancy], now: datetime) -> str:
    rows = []
    for d in found:
        diff = "" if d.difference is None else f"{d.difference} {escape(d.currency)}"
        fix = "queued" if d.queued else ("reported only" if d.fix == "none" else d.fix)
        cells = (
            escape(d.flow),
            escape(d.kind),
            escape(d.record_key),
            escape(d.source_value),
            escape(d.target_value),
            diff,
            escape(d.owner),
            escape(fix),
            escape(age_bucket(d, now)),
            escape(d.detail),
            escape(d.hint),
        )
        klass = ' class="queued"' if d.queued else ""
        rows.append(
            f"<tr{klass}>"
            + "".join(
                f'<td class="num">{c}</td>' if i == 5 else f"<td>{c}</td>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
        )
    return "\n".join(rows)


def reconcile_page(results: Sequence[Reconciled], *, now: datetime | None = None) -> str:
    """The whole page: summary, chart, then every discrepancy in a sortable table."""
    now = now or datetime.now(UTC)
    found = [d for r in results for d in r.discrepancies]
    queued = sum(1 for d in found if d.queued)
    flows = ", ".join(escape(r.flow) for r in results) or "none"
    fixes = []
    for r in results:
        if r.fixes is not None:
            f = r.fixes
            fixes.append(
                f"<li>{escape(r.flow)}: {len(f.posted)} records posted, {len(f.reversed)} "
                f"duplicates reversed, {len(f.queued)} queued for a person, "
                f"{len(f.failed)} fixes failed</li>"
            )
    head = (
        "<th>flow</th><th>kind</th><th>record</th><th>source says</th><th>books say</th>"
        "<th>difference (minor units)</th><th>owner</th><th>fix</th><th>open for</th>"
        "<th>what</th><th>how to fix</th>"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>billbridge reconcile {now:%Y-%m-%d %H:%M} UTC</title><style>{_STYLE}</style>"
        "</head><body>"
        f"<h1>Reconciliation, {now:%Y-%m-%d %H:%M} UTC</h1>"
        f"<p>Flows: {flows}. {len(found)} discrepancies, {queued} already in the exception "
        "queue. Amounts in the difference column are source minus books, in the currency's "
        "minor unit (cents).</p>"
        + (f"<ul>{''.join(fixes)}</ul>" if fixes else "")
        + _chart(found, now)
        + f"<table><thead><tr>{head}</tr></thead><tbody>\n{_rows(found, now)}\n</tbody></table>"
        + _deferred([r.deferred for r in results if r.deferred is not None])
        + f"<script>{_SORT}</script></body></html>\n"
    )


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    if not rows:
        return "<p>None.</p>"
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _deferred(statuses: Sequence[DeferredStatus]) -> str:
    """Deferred revenue: each deferring flow's books beside its schedules."""
    if not statuses:
        return ""
    rows = [
        (
            status.flow,
            status.through.isoformat() if status.through else "never",
            row.entity,
            row.account,
            row.currency,
            f"{row.books:f}",
            f"{row.schedules:f}",
            f"{row.due:f}",
            "ok" if not row.difference else ("due" if row.explained else "differs"),
        )
        for status in statuses
        for row in status.balances
    ]
    head = ("flow", "recognized through", "entity", "account", "currency", "books",
            "schedules", "due", "verdict")  # fmt: skip
    return "<h2>Deferred revenue against the schedules</h2>" + _table(head, rows)


def _named(row: dict[str, Any]) -> str:
    """A record in words, with its key (what a person searches for)."""
    return f"{row['words']} ({row['record']})" if row.get("words") else str(row["record"])


def daily_page(report: DailyReport) -> str:
    """The daily report as one page: synced, failed and why, waiting, discrepancies."""
    flows = [
        (
            name,
            f.runs,
            f.records_posted,
            f.postings,
            f"{f.counts.get('failed', 0)} ({f.open.get('failed', 0)} open now)",
            f"{f.counts.get('held', 0)} ({f.open.get('held', 0)} open now)",
            f"{f.counts.get('conflict', 0)} ({f.open.get('conflict', 0)} open now)",
            "; ".join(f.stopped),
        )
        for name, f in sorted(report.flows.items())
    ]
    estimate = report.cleanup
    causes = [
        (c["cause"], c["count"], ", ".join(f"{v} {k}" for k, v in c["amounts"].items()),
         c["problem"], c["fix"])
        for c in report.causes
    ]  # fmt: skip
    kinds = sorted(
        set(report.discrepancies_found)
        | set(report.discrepancies_resolved)
        | set(report.discrepancies_open)
    )
    found = [
        (
            k,
            report.discrepancies_found.get(k, 0),
            report.discrepancies_resolved.get(k, 0),
            report.discrepancies_open.get(k, 0),
        )
        for k in kinds
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>billbridge daily report {report.until:%Y-%m-%d}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Daily report, {report.since:%Y-%m-%d %H:%M} to {report.until:%Y-%m-%d %H:%M} UTC"
        "</h1>"
        f"<p><strong>Clean-up today: about {estimate.minutes} min</strong> "
        f"(last {len(estimate.trend)} days: {escape(estimate.trend_text())} minutes)</p>"
        "<h2>What synced</h2>"
        + _table(
            (
                "flow",
                "runs",
                "records posted",
                "entries posted",
                "failed in runs",
                "held in runs",
                "conflict in runs",
                "runs not finished",
            ),
            flows,
        )
        + "<h2>Open causes</h2>"
        + _table(("cause", "records", "held back", "why", "how to fix"), causes)
        + "<h2>What failed and is still open, and why</h2>"
        + _table(
            ("flow", "record", "field", "why", "how to fix"),
            [(r["flow"], _named(r), r["field"], r["why"], r["fix"]) for r in report.failures],
        )
        + "<h2>What waits, and on whom</h2>"
        + _table(
            ("flow", "record", "kind", "waits on", "why"),
            [(r["flow"], _named(r), r["kind"], r["waits_on"], r["why"]) for r in report.waiting],
        )
        + "<h2>Discrepancies found and fixed</h2>"
        + _table(("kind", "found", "resolved", "still open"), found)
        + "<h2>Audit chain</h2><p>"
        + (
            escape(f"seq {report.audit_head.seq}, head {report.audit_head.hash}")
            if report.audit_head
            else "empty"
        )
        + " (keep this: <code>billbridge audit --verify</code> finds a chain cut or"
        " rewritten since)</p>"
        + _deferred(report.deferred)
        + f"<script>{_SORT}</script></body></html>\n"
    )
