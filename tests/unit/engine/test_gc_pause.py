"""A run collects garbage less often, and leaves the collector as it found it."""

from __future__ import annotations

import gc

import pytest

from billbridge.engine.gc_pause import RUN_THRESHOLD, fewer_collections


def test_thresholds_raised_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold() == RUN_THRESHOLD
        assert gc.get_freeze_count() > 0  # what was alive at the start is left out
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_restored_when_the_run_raises() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the run failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_during_the_run_are_still_collected() -> None:
    collected = []

    class Node:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            collected.append(1)

    with fewer_collections():
        for _ in range(RUN_THRESHOLD[0] * 2):
            Node()
        assert collected  # a pass ran during the block: memory stays bounded


def test_overlapping_runs_restore_the_collector_when_the_last_ends() -> None:
    before = gc.get_threshold()
    first = fewer_collections()
    second = fewer_collections()
    first.__enter__()
    second.__enter__()  # a second sync on another thread of `billbridge serve`
    first.__exit__(None, None, None)
    assert gc.get_threshold() == RUN_THRESHOLD  # the second run is still going
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
