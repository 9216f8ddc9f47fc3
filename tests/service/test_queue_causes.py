"""The morning queue over the API and in the pages: causes, one replay, words, no reprs."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reprs import page_text, repr_marks, strings
from tests.scenario import CURRENCY_CAUSE, TAX_CAUSE, TOTAL_CAUSE, fix_mapping, make_scenario

from .conftest import BACKENDS, Service


@pytest.fixture
def workspace_files() -> Callable[[Path], object]:
    return make_scenario


@BACKENDS
def test_three_causes_and_one_replay_over_the_api(service: Service) -> None:
    viewer = service.api("viewer")
    causes = viewer.get("/api/queue/causes").json()
    assert [(c["cause"], c["count"]) for c in causes] == [
        (TAX_CAUSE, 50), (CURRENCY_CAUSE, 3), (TOTAL_CAUSE, 1),
    ]  # fmt: skip
    assert all(r["words"].startswith("Invoice BB-") for r in causes[0]["records"])
    rows = viewer.get("/api/queue", params={"kind": "failed"}).json()
    assert len(rows) == 54 and sum(r["cause"] == TAX_CAUSE for r in rows) == 50
    assert all(r["words"]["number"].startswith("BB-") for r in rows)
    assert viewer.post("/api/queue/causes/replay", json={"cause": TAX_CAUSE}).status_code == 403

    operator = service.api("operator")
    preview = operator.post("/api/queue/causes/replay", json={"cause": TAX_CAUSE}).json()
    (run,) = preview["runs"]
    assert (run["dry_run"], run["run"], run["counts"]["failed"]) == (True, 0, 50)
    assert preview["records"] == []  # a preview changes nothing
    fix_mapping(service.root)
    preview = operator.post("/api/queue/causes/replay", json={"cause": TAX_CAUSE}).json()
    (run,) = preview["runs"]
    assert (run["counts"]["synced"], run["posted"], len(run["entries"])) == (50, 50, 50)
    done = operator.post(
        "/api/queue/causes/replay", json={"cause": TAX_CAUSE, "dry_run": False}
    ).json()
    assert [r["state"] for r in done["records"]] == ["done"] * 50
    causes = viewer.get("/api/queue/causes").json()
    assert [c["cause"] for c in causes] == [CURRENCY_CAUSE, TOTAL_CAUSE]
    metrics = viewer.get("/metrics").text
    assert re.search(r"^billbridge_cleanup_minutes 22\.0$", metrics, re.MULTILINE), metrics
    missing = operator.post("/api/queue/causes/replay", json={"cause": TAX_CAUSE})
    assert missing.status_code == 404 and "no open cause" in missing.json()["detail"]
    audit = viewer.get("/api/audit", params={"actor": "token:otto"}).json()
    assert {a["action"] for a in audit} >= {"previewed", "replayed", "posted"}


def test_pages_and_json_name_records_in_words_and_print_no_python_values(
    service: Service,
) -> None:
    client, csrf = service.browser_login("operator")
    pages = {
        "/queue": client.get("/queue").text,
        "/trace": client.get("/trace", params={"ref": "BB-0000060"}).text,
        "/audit": client.get("/audit").text,
        "/runs": client.get("/runs").text,
        "cause preview": client.post(
            "/queue/causes/preview", data={"cause": TAX_CAUSE, "csrf_token": csrf}
        ).text,
    }
    for name, page in pages.items():
        assert not repr_marks(page_text(page)), (name, repr_marks(page_text(page)))
    queue = page_text(pages["/queue"])
    assert "118 open rows in 3 causes" in " ".join(queue.split())
    assert "Preview replay of all 50" in queue

    # The trace names every record of the timeline and shows each entry's lines.
    trace = pages["/trace"]
    timeline = trace[trace.index('id="timeline"') : trace.index("</table>")]
    records = re.findall(
        r"<tr class=\"event-[^\"]+\">(?:<td>.*?</td>){3}\s*<td>(.*?)</td>", timeline
    )
    assert records and all(r.strip() for r in records)
    assert all(r.startswith(("Invoice BB-0000060", "Payment for BB-0000060")) for r in records)
    postings = page_text(trace[trace.index('id="postings"') :])
    assert "Assets:Receivable:Stripe" in postings and re.search(r"\d+\.\d\d [A-Z]{3}", postings)
    assert "billbridge.beancount, line " in postings

    # The audit page opens on the newest row.
    seqs = [int(s) for s in re.findall(r"<tr><td>(\d+)</td>", pages["/audit"])]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) > 10

    viewer = service.api("viewer")
    answers = [
        viewer.get("/api/queue").json(),
        viewer.get("/api/queue/causes").json(),
        viewer.get("/api/trace/BB-0000060").json(),
        viewer.get("/api/audit").json(),
        viewer.get("/api/records/stripe:invoice:in_0000000388/history").json(),
    ]
    for answer in answers:
        for text in strings(answer):
            assert not repr_marks(text), text
