"""A batch that cannot be applied together goes in halves, in the batch's order, down to the
events that must be decided alone; a partition stopped by one of them goes no further; a flood
of bad events falls back to one event at a time; an outage ends the batch at once."""

from __future__ import annotations

from collections.abc import Collection

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from support import offsets_only_consumer

from samverkan.runtime.consumer import Item, Outcome, Progress

pytestmark = pytest.mark.unit


def _items(partition: str, count: int) -> list[Item]:
    return [
        Item(ConsumerRecord("t", int(partition == "b"), offset, 0, 0, None, b"", None, 0, 0, ()))
        for offset in range(count)
    ]


class Batch:
    """A consumer whose attempts are scripted: a part applies together unless it holds one of
    `bad`, or the database is `away`; alone, each of `bad` comes out as `alone_outcome`."""

    def __init__(
        self,
        bad: Collection[Item] = (),
        alone_outcome: Outcome = Outcome.DONE,
        away: bool = False,
    ) -> None:
        self.bad = {id(item) for item in bad}
        self.alone_outcome = alone_outcome
        self.away = away
        self.together: list[list[Item]] = []  # every attempt, in order
        self.failed = 0
        self.alone: list[Item] = []
        self.applied: list[Item] = []  # together or alone, in order
        self.consumer = offsets_only_consumer("audit")
        self.consumer._apply_together = self._together  # type: ignore[method-assign]
        self.consumer._apply_alone = self._alone  # type: ignore[method-assign]

    async def _together(self, part: list[Item], progress: Progress) -> Outcome | None:
        self.together.append(part)
        if self.away:
            return Outcome.RETRY
        if any(id(item) in self.bad for item in part):
            self.failed += 1
            return None
        for item in part:
            progress.settle(item, Outcome.DONE)
        self.applied += part
        return Outcome.DONE

    async def _alone(self, item: Item) -> Outcome:
        self.alone.append(item)
        if id(item) in self.bad:
            return self.alone_outcome
        self.applied.append(item)
        return Outcome.DONE

    async def apply(self, items: list[Item]) -> Progress:
        progress = Progress()
        await self.consumer._apply_in_parts(None, items, progress)  # type: ignore[arg-type]
        return progress


A, B = TopicPartition("t", 0), TopicPartition("t", 1)


async def test_one_bad_event_costs_a_few_parts_and_is_decided_alone() -> None:
    items = _items("a", 500)
    batch = Batch(bad=[items[321]])
    progress = await batch.apply(items)
    # It, and at most the neighbour it shared the last part of two with: not 500 transactions.
    assert items[321] in batch.alone and len(batch.alone) <= 2
    assert batch.failed <= 9  # each part on the way down to it
    assert progress.done == {A: 500} and not progress.rewind
    # Every other event applied once, in the batch's order.
    assert batch.applied == [item for item in items if item is not items[321]]


async def test_an_event_that_waits_stops_its_partition_and_no_other() -> None:
    a, b = _items("a", 4), _items("b", 4)
    batch = Batch(bad=[a[1]], alone_outcome=Outcome.WAIT)
    progress = await batch.apply(a + b)
    assert a[1] in batch.alone and len(batch.alone) <= 2
    assert batch.applied == [a[0], *b]  # not what follows the one that waits: read again
    assert progress.done == {A: 1, B: 4} and progress.rewind == {A: 1}
    assert progress.waiting == {A}


async def test_a_flood_of_bad_events_goes_one_at_a_time_once_its_budget_is_spent() -> None:
    items = _items("a", 64)
    batch = Batch(bad=items[::2], alone_outcome=Outcome.DONE)  # dead-lettered, say
    progress = await batch.apply(items)
    assert batch.failed == (64).bit_length()  # then no more parts together
    assert len(batch.alone) > 32  # the rest one at a time: the bad ones and some good ones
    assert all(item in batch.alone for item in items[::2])
    assert batch.applied == items[1::2]
    assert progress.done == {A: 64} and not progress.rewind


async def test_an_outage_ends_the_batch_at_once() -> None:
    items = _items("a", 8) + _items("b", 8)
    batch = Batch(away=True)
    progress = await batch.apply(items)
    assert len(batch.together) == 1 and not batch.alone  # no part after the first
    assert progress.rewind == {A: 0, B: 0} and not progress.done
