"""StripeExportSource against real files: read, resume by cursor, bad lines, missing files."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from billbridge.connectors.base import FatalError
from billbridge.connectors.stripe_export import StripeExportSource
from billbridge.samples import generate, write_jsonl


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "stripe.jsonl"
    write_jsonl(path, generate(invoices=30, seed=4))
    return path


def test_reads_every_object_with_line_numbers(export: Path) -> None:
    records = list(StripeExportSource("stripe", export).read(None))
    lines = export.read_bytes().splitlines()
    assert len(records) == len(lines)
    assert [r.line for r in records] == list(range(1, len(lines) + 1))
    first = records[0]
    assert (first.object, first.id, first.error) == ("customer", "cus_000001", "")
    assert first.raw == lines[0]
    assert first.data == orjson.loads(lines[0])
    assert records[-1].position == str(export.stat().st_size)


def test_resume_from_cursor_gives_exactly_the_rest(export: Path) -> None:
    source = StripeExportSource("stripe", export)
    everything = list(source.read(None))
    for cut in (0, 1, 17, len(everything) - 1):
        rest = list(source.read(everything[cut].position))
        assert [(r.id, r.line) for r in rest] == [(r.id, r.line) for r in everything[cut + 1 :]]
    assert list(source.read(everything[-1].position)) == []


def test_a_cursor_into_a_rewritten_export_reads_it_all_again(export: Path) -> None:
    """A run was interrupted, then the export was replaced (lines of other lengths): the
    cursor no longer lands at a line start, so the whole file is read again instead of
    half a line becoming an unreadable record that stays in the queue."""
    source = StripeExportSource("stripe", export)
    everything = list(source.read(None))
    cursor = everything[17].position
    lines = export.read_bytes().splitlines(keepends=True)
    export.write_bytes(b"".join(line.replace(b'"object"', b'"object" ') for line in lines))
    again = list(source.read(cursor))
    assert [r.error for r in again if r.error] == []
    assert [r.id for r in again] == [r.id for r in everything]
    export.write_bytes(b"".join(lines[:5]))  # and shorter than the cursor
    assert [r.id for r in source.read(cursor)] == [r.id for r in everything[:5]]


def test_malformed_lines_become_error_records(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(
        b'{"object": "customer", "id": "cus_1"}\n'
        b"\n"
        b"{not json\n"
        b"[1, 2]\n"
        b'{"object": "invoice"}\n'
        b'{"id": "x"}\n'
        b'{"object": "customer", "id": "cus_2"}'  # no final newline
    )
    records = list(StripeExportSource("stripe", path).read(None))
    assert [r.id for r in records] == ["cus_1", "line-3", "line-4", "line-5", "line-6", "cus_2"]
    errors = [r.error for r in records if r.error]
    assert errors[0].startswith("line 3: not JSON")
    assert errors[1] == "line 4: a JSON list, not an object"
    assert errors[2] == "line 5: the invoice has no `id` field"
    assert errors[3] == "line 6: the object has no `object` field"
    assert all(r.object == "unknown" for r in records if r.error)
    assert records[-1].line == 7


def test_missing_file_is_fatal(tmp_path: Path) -> None:
    source = StripeExportSource("stripe", tmp_path / "nope.jsonl")
    with pytest.raises(FatalError, match=r"nope\.jsonl"):
        list(source.read(None))


def test_directory_of_exports_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_bytes(b'{"object": "customer", "id": "cus_b1"}\n')
    (tmp_path / "a.jsonl").write_bytes(
        b'{"object": "customer", "id": "cus_a1"}\n{"object": "customer", "id": "cus_a2"}\n'
    )
    (tmp_path / "notes.txt").write_text("ignored")
    source = StripeExportSource("stripe", tmp_path)
    records = list(source.read(None))
    assert [r.id for r in records] == ["cus_a1", "cus_a2", "cus_b1"]
    assert records[0].position.startswith("a.jsonl:")
    assert [r.id for r in source.read(records[0].position)] == ["cus_a2", "cus_b1"]
    assert [r.id for r in source.read(records[1].position)] == ["cus_b1"]
    assert [r.line for r in source.read(records[0].position)] == [2, 1]
    assert list(source.read(records[2].position)) == []
