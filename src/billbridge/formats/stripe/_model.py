"""Stripe's `SourceModel`: what the engine needs of a Stripe record beyond normalizing it.

Why here: the engine knows no Stripe field. An invoice's `number` and `created`, the
`invoice_payment` filed under the payment it names, the event envelope
`{id, type, created, data: {object}}` and the payout check all read Stripe's own shapes,
so they sit beside the normalizer (`billbridge.connectors.source` says what each is for).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from billbridge.connectors.base import RawRecord
from billbridge.connectors.source import Described, KeysOf, SourceFinding, SourceModel
from billbridge.domain import format_minor

from ._describe import words
from ._lifecycle import lifecycle
from ._lookups import LOOKUPS, REVISITS
from ._normalize import normalize
from ._privacy import redact, subjects

__all__ = [
    "ALIASES",
    "SOURCE_MODEL",
    "describe",
    "parse_event",
    "payout_findings",
    "payout_sums",
]


def _invoice_aliases(data: Mapping[str, Any]) -> list[str]:
    number = data.get("number")
    return [f"invoice_number:{number}"] if isinstance(number, str) and number else []


def _invoice_payment_aliases(data: Mapping[str, Any]) -> list[str]:
    payment = data.get("payment")
    if not isinstance(payment, Mapping):
        return []
    ids = [payment.get("payment_intent"), payment.get("charge")]
    return [f"invoice_payment_by_payment:{i}" for i in ids if isinstance(i, str) and i]


ALIASES: Mapping[str, KeysOf] = {
    "invoice": _invoice_aliases,
    "invoice_payment": _invoice_payment_aliases,
}


def describe(data: Mapping[str, Any]) -> Described:
    """Number, creation time (Unix seconds → UTC) and status, read as Stripe gives them."""
    created = data.get("created")
    when = None
    if isinstance(created, int):
        try:
            when = datetime.fromtimestamp(created, UTC)
        except (OverflowError, OSError, ValueError):
            when = None
    status = data.get("status")
    return Described(
        number=str(data.get("number") or ""),
        created=when,
        status=status if isinstance(status, str) else "",
    )


def parse_event(payload: bytes) -> RawRecord:
    """The object a stored Stripe event carries (`data.object`), as a record to process."""
    event = orjson.loads(payload)
    obj = event["data"]["object"]
    return RawRecord(
        object=str(obj["object"]),
        id=str(obj["id"]),
        data=obj,
        raw=orjson.dumps(obj, option=orjson.OPT_SORT_KEYS),
        position="",
    )


def payout_sums(
    connection: str, records: Iterable[Mapping[str, Any]]
) -> Iterator[tuple[str, str, int, int, int]]:
    """(record key, currency, amount, transactions, their sum) of each payout, in order.

    A balance transaction that names its payout (`payout`, as Stripe's payout
    reconciliation gives it) belongs to that payout. When none does, an automatic payout
    pays out every balance transaction of its currency since the previous payout.
    Amounts are in minor units. One pass over `records` (reconcile reads them from disk):
    each payout's sum is kept both ways, and the way the records use is chosen at the end.
    """
    explicit = False
    named: dict[str, list[int]] = {}
    pending: dict[str, list[int]] = {}
    found: list[tuple[str, str, int, tuple[int, int], tuple[int, int]]] = []
    for row in records:
        kind = row.get("object")
        currency = str(row.get("currency", "")).upper()
        if kind == "balance_transaction":
            owner = row.get("payout")
            explicit = explicit or isinstance(owner, str)
            net = row.get("net")
            if row.get("type") == "payout" or not isinstance(net, int):
                continue
            if isinstance(owner, str):
                named.setdefault(owner, []).append(net)
            pending.setdefault(currency, []).append(net)
        elif kind == "payout" and isinstance(row.get("amount"), int):
            ident = str(row.get("id", ""))
            by_name = named.get(ident, [])
            since = pending.pop(currency, [])
            key = f"{connection}:payout:{ident}"
            found.append(
                (
                    key,
                    currency,
                    int(row["amount"]),
                    (len(by_name), sum(by_name)),
                    (len(since), sum(since)),
                )
            )
    for key, currency, amount, by_name_sum, since_sum in found:
        count, summed = by_name_sum if explicit else since_sum
        yield key, currency, amount, count, summed


def payout_findings(connection: str, records: Sequence[RawRecord]) -> Iterator[SourceFinding]:
    """A payout whose amount is not the sum of the balance transactions it pays out."""
    rows = (r.data for r in records if not r.error)
    for key, currency, amount, count, summed in payout_sums(connection, rows):
        if amount == summed:
            continue
        yield SourceFinding(
            kind="payout_mismatch",
            record_key=key,
            facet="payout",
            source_value=f"payout {format_minor(amount, currency)}",
            target_value=(f"{count} balance transactions sum to {format_minor(summed, currency)}"),
            difference=amount - summed,
            currency=currency,
            detail=(
                f"payout {key} is {format_minor(amount, currency)} "
                f"but its balance transactions sum to {format_minor(summed, currency)}"
            ),
            hint="compare the payout's itemized report in Stripe; a transaction may be missing "
            "from the export",
        )


SOURCE_MODEL = SourceModel(
    normalize=normalize,
    lookups=LOOKUPS,
    aliases=ALIASES,
    describe=describe,
    parse_event=parse_event,
    checks=(payout_findings,),
    payment_object="charge",
    lifecycle=lifecycle,
    revisits=REVISITS,
    words=words,
    subjects=subjects,
    redact=redact,
)
