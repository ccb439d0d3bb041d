"""The bench keeps its own heap out of the collector's scans while a part measures."""

from __future__ import annotations

import gc

from bench import heap


def test_frozen_holds_what_exists_and_gives_it_back() -> None:
    kept = [[i] for i in range(1_000)]  # tracked containers the collector would scan
    assert gc.get_freeze_count() == 0
    with heap.frozen():
        assert gc.get_freeze_count() >= len(kept)
    assert gc.get_freeze_count() == 0
