"""A batch that cannot be applied together goes in halves, in the batch's order, down to the
events that must be decided alone; a partition stopped by one of them goes no further; a flood
of bad events falls back to one event at a time; an outage ends the batch at once, a lock or a
timeout does not; an invalid record costs no transaction."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from support import offsets_only_consumer

from samverkan.runtime import consumer as consumer_module
from samverkan.runtime.consumer import Item, Outcome, Progress, Route

pytestmark = pytest.mark.unit

A, B = TopicPartition("t", 0), TopicPartition("t", 1)


def _items(partition: TopicPartition, count: int) -> list[Item]:
    return [
        Item(ConsumerRecord("t", partition.partition, n, 0, 0, None, b"", None, 0, 0, ()))
        for n in range(count)
    ]


class Batch:
    """A consumer whose attempts are scripted. Together, a part fails if it holds one of `bad`,
    and fails as when the database is away if it holds one of `busy` (a lock, say) or all is
    `away`; alone, each of `bad` comes out as `alone_outcome`, and all as RETRY when `away`."""

    def __init__(
        self,
        bad: Collection[Item] = (),
        alone_outcome: Outcome = Outcome.DONE,
        busy: Collection[Item] = (),
        away: bool = False,
    ) -> None:
        self.bad = {id(item) for item in bad}
        self.busy = {id(item) for item in busy}
        self.alone_outcome = alone_outcome
        self.away = away
        self.together: list[list[Item]] = []  # every attempt, in order
        self.failed = 0
        self.alone: list[Item] = []
        self.applied: list[Item] = []  # together or alone, in order
        self.consumer = offsets_only_consumer("audit")
        self.consumer._apply_together = self._together  # type: ignore[method-assign]
        self.consumer._apply_alone = self._alone  # type: ignore[method-assign]

    async def _together(
        self, part: list[Item], progress: Progress, watch: object = None
    ) -> Outcome | None:
        assert all(item.invalid is None for item in part)  # never worth a transaction
        self.together.append(part)
        if self.away or any(id(item) in self.busy for item in part):
            self.failed += 1
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
        if self.away:
            return Outcome.RETRY
        if id(item) in self.bad or item.invalid is not None:
            return self.alone_outcome
        self.applied.append(item)
        return Outcome.DONE

    async def apply(self, items: list[Item], outcome: Outcome | None = None) -> Progress:
        """`outcome`: the whole batch's, together."""
        progress = Progress()
        await self.consumer._apply_in_parts(None, items, progress, outcome)  # type: ignore[arg-type]
        return progress


async def test_one_bad_event_costs_a_few_parts_and_is_decided_alone() -> None:
    items = _items(A, 500)
    batch = Batch(bad=[items[321]])
    progress = await batch.apply(items)
    # It, and at most the neighbour it shared the last part of two with: not 500 transactions.
    assert items[321] in batch.alone and len(batch.alone) <= 2
    assert batch.failed <= 9  # each part on the way down to it
    assert batch.applied == [item for item in items if item is not items[321]]  # in order
    assert progress.done == {A: 500} and not progress.rewind


async def test_an_event_that_waits_stops_its_partition_and_no_other() -> None:
    a, b = _items(A, 4), _items(B, 4)
    batch = Batch(bad=[a[1]], alone_outcome=Outcome.WAIT)
    progress = await batch.apply(a + b)
    assert a[1] in batch.alone and len(batch.alone) <= 2
    assert batch.applied == [a[0], *b]  # not what follows the one that waits: read again
    assert progress.done == {A: 1, B: 4} and progress.rewind == {A: 1}
    assert progress.waiting == {A}


async def test_a_flood_of_bad_events_goes_one_at_a_time_once_its_budget_is_spent() -> None:
    items = _items(A, 64)
    batch = Batch(bad=items[::2])  # dead-lettered alone, say
    progress = await batch.apply(items)
    assert batch.failed == consumer_module.PARTS_BUDGET * (64).bit_length()  # then no more
    assert all(item in batch.alone for item in items[::2])
    assert batch.applied == items[1::2]
    assert progress.done == {A: 64} and not progress.rewind


async def test_an_outage_ends_the_batch_after_its_first_event_alone() -> None:
    a, b = _items(A, 8), _items(B, 8)
    batch = Batch(away=True)
    progress = await batch.apply(a + b, Outcome.RETRY)
    assert batch.together == [] and batch.alone == [a[0]]  # as before parts: one try alone
    assert progress.rewind == {A: 0, B: 0} and not progress.done


async def test_a_part_held_up_by_a_lock_goes_on_in_parts() -> None:
    items = _items(A, 100)
    batch = Batch(busy=[items[70]])  # too slow together, fine alone
    progress = await batch.apply(items, Outcome.RETRY)
    assert batch.applied == items
    assert len(batch.alone) < 20  # not one at a time
    assert progress.done == {A: 100} and not progress.rewind


async def test_an_event_whose_decision_fails_for_the_database_rewinds_the_rest() -> None:
    a, b = _items(A, 8), _items(B, 8)
    batch = Batch(bad=[a[5]], alone_outcome=Outcome.RETRY)  # its dead letter not sent, say
    progress = await batch.apply(a + b)
    assert batch.applied == a[:5]
    assert b[0] not in batch.applied  # after it in the batch: read again
    assert progress.rewind == {A: 5, B: 0}


async def test_invalid_records_cost_no_transaction_and_no_budget() -> None:
    items = _items(A, 32)
    for n in (3, 17, 30):
        items[n].invalid = "not an event"
    batch = Batch(alone_outcome=Outcome.DONE)  # dead-lettered
    progress = await batch.apply(items, None)
    assert batch.failed == 0
    assert [item for item in batch.alone if item.invalid] == [items[3], items[17], items[30]]
    assert len(batch.alone) <= 6  # and a part of one left beside an invalid one, if any
    assert batch.applied == [item for item in items if item.invalid is None]
    assert progress.done == {A: 32}


async def test_a_batch_that_has_taken_too_long_is_read_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(consumer_module, "ONE_BY_ONE_LIMIT_S", -1.0)
    items = _items(A, 8)
    batch = Batch(bad=[items[3]])
    progress = await batch.apply(items)
    assert batch.together == [] and batch.alone == []
    assert progress.rewind == {A: 0}


@pytest.mark.parametrize(
    ("failure", "outcome"),
    [(ConnectionRefusedError(), Outcome.RETRY), (ValueError("a handler's bug"), None)],
)
async def test_a_part_that_fails_together_says_whether_the_database_was_away(
    failure: Exception, outcome: Outcome | None
) -> None:
    consumer = offsets_only_consumer("audit")

    @contextlib.asynccontextmanager
    async def failing() -> AsyncIterator[None]:
        raise failure
        yield

    consumer._uow = failing  # type: ignore[assignment]

    async def apply(*_: object) -> None:
        raise AssertionError("nothing is applied")

    items = _items(A, 2)
    for item in items:
        item.route = Route(apply, False)  # type: ignore[arg-type]
    progress = Progress()
    assert await consumer._apply_together(items, progress) is outcome
    assert not progress.done


class Kafka:
    """What the consumer asks of aiokafka's while it settles a batch."""

    def __init__(self) -> None:
        self.seeks: dict[TopicPartition, int] = {}
        self.committed: dict[TopicPartition, int] = {}

    def assignment(self) -> set[TopicPartition]:
        return {A, B}

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks[partition] = offset

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.update(offsets)


@pytest.mark.parametrize("away", [False, True])
async def test_a_whole_batch_held_up_like_an_outage_asks_its_first_event_alone(
    away: bool,
) -> None:
    # A lock or a statement timeout on the whole batch: its first event alone goes through, and
    # the rest in parts. An outage: that event fails too, and the batch is read again.
    items = _items(A, 8)
    batch = Batch(busy=items, away=away)  # nothing of more than one event goes through
    batch.consumer._item = lambda record: items[record.offset]  # type: ignore[method-assign]
    batch.consumer._backoff_s = 0.0
    kafka = Kafka()
    await batch.consumer(
        consumer_module.Batch(tuple(i.record for i in items), kafka),  # type: ignore[arg-type]
        revocations=0,
    )
    await batch.consumer.finish_commits()
    assert batch.alone[0] is items[0]
    if away:
        assert batch.alone == [items[0]] and batch.applied == []
        assert kafka.seeks == {A: 0} and not kafka.committed
    else:
        assert batch.applied == items and not kafka.seeks
        assert kafka.committed == {A: 8}


async def test_invalid_records_leave_the_budget_to_failed_transactions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(consumer_module, "PARTS_BUDGET", 1)  # 7 failed parts for 64 records
    items = _items(A, 64)
    invalid = items[4::8]  # 8 of them: more than the budget, were each to cost one
    for item in invalid:
        item.invalid = "not an event"
    bad = items[50]
    batch = Batch(bad=[bad])
    await batch.apply(items, None)
    assert batch.failed <= 7
    # Only the bad event, and a good one beside it or an invalid one, go alone: the budget was
    # not spent on the invalid ones, which would have sent the rest one at a time.
    assert len([item for item in batch.alone if not item.invalid]) <= 8
    assert [item for item in batch.alone if item.invalid] == invalid
