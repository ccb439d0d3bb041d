"""The bench keeps its own heap out of the collector's scans while a part measures."""

from __future__ import annotations

import gc

import pytest

from bench import heap


def _scanned(obj: object) -> bool:
    """Whether the collector scans `obj` (the frozen are left out of its generations)."""
    return any(o is obj for o in gc.get_objects())


def test_frozen_holds_what_exists_and_gives_it_back() -> None:
    kept: list[object] = []
    assert _scanned(kept)
    with heap.frozen():
        assert not _scanned(kept)
    assert _scanned(kept)


def test_frozen_gives_the_heap_back_when_the_part_fails() -> None:
    kept: list[object] = []
    with pytest.raises(RuntimeError), heap.frozen():
        raise RuntimeError("the part failed")
    assert _scanned(kept)
