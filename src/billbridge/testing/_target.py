"""The conformance suite every target connector gets for free.

Why a shared suite: exactly-once posting rests on four promises a target makes to the
engine (`connectors/base.py`): what `flush` made durable survives a close; `find` sees
every durable key; `recover(p)` returns exactly the keys written after position `p`; and
`render` shows what `write` would store. Each target proves them with the same tests,
the way singer-sdk's `get_tap_test_class` does for taps, instead of each connector
re-inventing (and forgetting one of) them.

Use it from a test module, with the real target (never a fake)::

    from billbridge.testing import TargetConformance

    class TestGnuCashConformance(TargetConformance):
        def open_target(self, where: Path) -> TargetConnector:
            return GnuCashTarget("books", where / "main.gnucash")

`open_target` is called again on the same folder to reopen the target after a close, so
it must open what is there, not start afresh. The tests need only pytest's `tmp_path`;
this module does not import pytest, so connectors outside this repository can use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

from billbridge.connectors.base import Recovered, TargetConnector
from billbridge.domain import JournalEntry, Money, Posting

__all__ = ["TargetConformance", "sample_entry"]


def sample_entry(n: int, *, currency: str = "EUR", amount: str = "119.00") -> JournalEntry:
    """Invoice `n`: receivable against revenue and tax, balanced in `currency`.

    The split uses the currency's minor unit (JPY has none, KWD three), so a target that
    rounds to two places is caught.
    """
    total = Money(amount=Decimal(amount), currency=currency)
    tax, net = total.allocate([19, 100])
    return JournalEntry(
        date=date(2026, 1, 1 + n % 28),
        narration=f"Invoice HB-{n:04d} — Globex Corp",
        payee="Globex Corp",
        postings=(
            Posting(account="Assets:Receivable:Stripe", amount=total),
            Posting(account="Income:Sales:Pro", amount=-net),
            Posting(account="Liabilities:Tax:VAT19", amount=-tax),
        ),
        key=f"stripe-to-books:stripe:invoice:in_{n}:issue",
        source=f"stripe:invoice:in_{n}",
        version=f"v{n}",
        links=(f"in_{n}",),
    )


class TargetConformance:
    """Subclass and implement `open_target`; pytest collects the inherited tests."""

    def open_target(self, where: Path) -> TargetConnector:
        """Open (creating when missing) the target kept under the folder `where`."""
        raise NotImplementedError("a TargetConformance subclass must implement open_target")

    # -- helpers ---------------------------------------------------------------------------

    def _write_flushed(self, target: TargetConnector, entries: Sequence[JournalEntry]) -> int:
        for entry in entries:
            target.write([entry])
        return target.flush()

    # -- the promises ----------------------------------------------------------------------

    def test_flushed_writes_survive_a_close_and_are_found(self, tmp_path: Path) -> None:
        entries = [sample_entry(n) for n in range(1, 4)]
        target = self.open_target(tmp_path)
        try:
            self._write_flushed(target, entries)
        finally:
            target.close()
        reopened = self.open_target(tmp_path)
        try:
            found = reopened.find([e.key for e in entries] + ["no-such-key"])
        finally:
            reopened.close()
        assert set(found) == {e.key for e in entries}
        assert all(ref for ref in found.values()), "every found key needs a ref for people"

    def test_recover_returns_exactly_the_writes_after_the_position(self, tmp_path: Path) -> None:
        first, later = [sample_entry(1), sample_entry(2)], [sample_entry(3), sample_entry(4)]
        target = self.open_target(tmp_path)
        try:
            committed = self._write_flushed(target, first)
            end = self._write_flushed(target, later)
            assert end >= committed, "flush positions never go backwards"
        finally:
            target.close()
        reopened = self.open_target(tmp_path)
        try:
            assert set(reopened.recover(committed)) == {e.key for e in later}
            assert dict(reopened.recover(end)) == {}
        finally:
            reopened.close()

    def test_recover_gives_back_what_each_entry_does_to_the_books(self, tmp_path: Path) -> None:
        """Date, legs (in order, mapping accounts, exact amounts) and version of each entry
        found past the position: the engine hashes them to keep conflict detection on."""
        later = [
            sample_entry(2),
            sample_entry(3, currency="JPY", amount="11900"),
            sample_entry(4, currency="KWD", amount="11.999"),
            sample_entry(5, amount="0.10"),
        ]
        target = self.open_target(tmp_path)
        try:
            committed = self._write_flushed(target, [sample_entry(1)])
            target.write(later[:2])
            target.write(later[2:])  # two writes of two entries each
            target.flush()
        finally:
            target.close()
        reopened = self.open_target(tmp_path)
        try:
            found = reopened.recover(committed)
        finally:
            reopened.close()
        assert set(found) == {e.key for e in later}
        for entry in later:
            item = found[entry.key]
            assert isinstance(item, Recovered), (
                "recover must give each entry back (a Recovered), not only its ref"
            )
            assert item.ref
            assert item.date == entry.date
            assert item.version == entry.version
            assert [(leg.account, leg.amount, leg.currency) for leg in item.legs] == [
                (p.account, p.amount.amount, p.amount.currency) for p in entry.postings
            ]

    def test_recover_from_the_start_finds_every_write(self, tmp_path: Path) -> None:
        entries = [sample_entry(n) for n in range(1, 6)]
        target = self.open_target(tmp_path)
        try:
            start = target.flush()
            self._write_flushed(target, entries)
            assert set(target.recover(start)) == {e.key for e in entries}
        finally:
            target.close()

    def test_writes_continue_after_recover(self, tmp_path: Path) -> None:
        target = self.open_target(tmp_path)
        try:
            committed = self._write_flushed(target, [sample_entry(1)])
            self._write_flushed(target, [sample_entry(2)])
            target.recover(committed)
            end = self._write_flushed(target, [sample_entry(3)])
            assert set(target.recover(committed)) == {sample_entry(2).key, sample_entry(3).key}
            assert dict(target.recover(end)) == {}
        finally:
            target.close()

    def test_find_of_nothing_is_nothing(self, tmp_path: Path) -> None:
        target = self.open_target(tmp_path)
        try:
            assert dict(target.find([])) == {}
            assert dict(target.find(["stripe-to-books:stripe:invoice:in_9:issue"])) == {}
        finally:
            target.close()

    def test_render_shows_each_entry_and_writes_nothing(self, tmp_path: Path) -> None:
        entries = [sample_entry(1), sample_entry(2, currency="JPY", amount="11900")]
        target = self.open_target(tmp_path)
        try:
            text = target.render(entries)
            assert text == target.render(entries), "render is deterministic"
            for entry in entries:
                assert entry.narration in text
            assert dict(target.find([e.key for e in entries])) == {}
        finally:
            target.close()

    def test_every_minor_unit_is_kept(self, tmp_path: Path) -> None:
        """JPY (0 places), EUR (2) and KWD (3) land and are found like any other write."""
        entries = [
            sample_entry(1, currency="JPY", amount="11900"),
            sample_entry(2, currency="EUR", amount="119.99"),
            sample_entry(3, currency="KWD", amount="11.999"),
        ]
        target = self.open_target(tmp_path)
        try:
            self._write_flushed(target, entries)
            assert set(target.find([e.key for e in entries])) == {e.key for e in entries}
        finally:
            target.close()

    def test_close_twice_is_harmless(self, tmp_path: Path) -> None:
        target = self.open_target(tmp_path)
        target.close()
        target.close()
