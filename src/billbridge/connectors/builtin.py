"""billbridge's own connectors, registered like any plugin (pyproject.toml entry points).

Each factory imports its connector only when a flow needs it; GnuCash's spec lives in
`connectors.gnucash` itself, so a missing `billbridge[gnucash]` extra fails that entry
point alone, with a message naming the extra.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from billbridge.connection_config import (
    BeancountConnection,
    CsvExportConnection,
    SqlLedgerConnection,
    StripeConnection,
)

from .base import FatalError, SourceConnector, TargetConnector, WriteBackConnector
from .records import RecordTarget
from .source import SourceModel
from .spec import ConnectorSpec, LedgerLine

if TYPE_CHECKING:
    from .stripe_api import StripeApi

__all__ = ["BEANCOUNT", "CSV_EXPORT", "SQLGL", "STRIPE"]


def _stripe_source(name: str, conn: StripeConnection) -> SourceConnector:
    if conn.export is not None:
        from .stripe_export import StripeExportSource  # noqa: PLC0415

        return StripeExportSource(name, conn.export)
    from .stripe_api import (  # noqa: PLC0415
        DEFAULT_API_VERSION,
        StripeApi,
        StripeApiSource,
        default_objects,
    )

    if conn.api_key is None:
        raise FatalError(f"connection {name!r} has neither `export:` nor `api_key:`")
    version = conn.api_version or DEFAULT_API_VERSION
    api = StripeApi(
        api_key=conn.api_key.get_secret_value(),
        api_version=version,
        api_base=conn.api_base,
        rate=conn.rate_limit,
    )
    return StripeApiSource(name, api, objects=conn.objects or default_objects(version))


def _stripe_model(_conn: StripeConnection) -> SourceModel:
    """Stripe's normalizer, look-ups, aliases, events and payout check (both API shapes)."""
    from billbridge.formats.stripe import SOURCE_MODEL  # noqa: PLC0415

    return SOURCE_MODEL


def _stripe_live(conn: StripeConnection, what: str) -> StripeApi:
    """The live API of a Stripe connection (pinned version, paced, translated)."""
    from .stripe_api import DEFAULT_API_VERSION, StripeApi  # noqa: PLC0415

    if conn.api_key is None:
        raise FatalError(f"{what} needs the live API: set `api_key: ${{STRIPE_API_KEY}}`")
    return StripeApi(
        api_key=conn.api_key.get_secret_value(),
        api_version=conn.api_version or DEFAULT_API_VERSION,
        api_base=conn.api_base,
        rate=conn.rate_limit,
    )


def _stripe_writeback(conn: StripeConnection) -> WriteBackConnector:
    """The write-back side of a live Stripe connection."""
    from .stripe_api import StripeWriteBack  # noqa: PLC0415

    return StripeWriteBack(_stripe_live(conn, "write-back"))


def _stripe_records(name: str, conn: StripeConnection) -> RecordTarget:
    """Stripe as a flow's `to:`: canonical customers written to Stripe's customers."""
    from .stripe_api import StripeRecordTarget  # noqa: PLC0415

    return StripeRecordTarget(name, _stripe_live(conn, f"a flow to {name!r}"))


def _beancount(name: str, conn: BeancountConnection) -> TargetConnector:
    from .beancount import BeancountTarget  # noqa: PLC0415

    return BeancountTarget(name, conn.path)


def _beancount_lines(conn: BeancountConnection) -> Iterator[LedgerLine]:
    from .beancount import ledger_lines  # noqa: PLC0415

    return ledger_lines(conn.path)


def _beancount_scrub(conn: BeancountConnection, texts: Sequence[tuple[str, str]]) -> int:
    from .beancount import scrub_entries  # noqa: PLC0415

    return scrub_entries(conn.path, texts)


def _sqlgl(name: str, conn: SqlLedgerConnection) -> TargetConnector:
    from .sqlgl import SqlLedgerTarget  # noqa: PLC0415

    return SqlLedgerTarget(name, conn.url)


def _sqlgl_lines(conn: SqlLedgerConnection) -> Iterator[LedgerLine]:
    from .sqlgl import ledger_lines  # noqa: PLC0415

    return ledger_lines(conn.url)


def _sqlgl_scrub(conn: SqlLedgerConnection, texts: Sequence[tuple[str, str]]) -> int:
    from .sqlgl import scrub_journal  # noqa: PLC0415

    return scrub_journal(conn.url, texts)


def _csv_export(name: str, conn: CsvExportConnection) -> TargetConnector:
    from .csv_export import CsvExportTarget  # noqa: PLC0415

    return CsvExportTarget(name, conn.path, conn.format, tax_type=conn.tax_type)


STRIPE = ConnectorSpec(
    name="stripe",
    config=StripeConnection,
    role="source",
    factory=_stripe_source,
    source_model=_stripe_model,
    record_target=_stripe_records,
    writeback=_stripe_writeback,
    record_fields={"customer": ("name", "email", "address"), "deal": ("plan",)},
)
BEANCOUNT = ConnectorSpec(
    name="beancount",
    config=BeancountConnection,
    role="target",
    factory=_beancount,
    ledger_lines=_beancount_lines,
    scrub=_beancount_scrub,
)
SQLGL = ConnectorSpec(
    name="sqlgl", config=SqlLedgerConnection, role="target", factory=_sqlgl,
    ledger_lines=_sqlgl_lines, scrub=_sqlgl_scrub,
)  # fmt: skip
CSV_EXPORT = ConnectorSpec(
    name="csv-export", config=CsvExportConnection, role="target", factory=_csv_export
)
