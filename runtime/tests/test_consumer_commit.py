"""Offset commits: one that never finishes must not stall the consumer (it gives up and goes
on), and while catching up a batch's commit goes out while the next batch is applied."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError
from aiokafka.structs import ConsumerRecord
from support import offsets_only_consumer

from samverkan.runtime import consumer as consumer_module
from samverkan.runtime.consumer import Progress, past_batch

pytestmark = pytest.mark.unit

PARTITION = TopicPartition("samverkan.referral.v1", 0)
OTHER = TopicPartition("samverkan.referral.v1", 1)


class StuckCoordinator:
    """An AIOKafkaConsumer whose group coordinator never answers (aiokafka retries forever)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.asked: list[dict[TopicPartition, int]] = []

    def assignment(self) -> set[TopicPartition]:
        return {PARTITION}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.asked.append(offsets)
        if self.error is not None:
            raise self.error
        await asyncio.Event().wait()


async def test_a_commit_that_never_returns_is_given_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(consumer_module, "COMMIT_TIMEOUT_S", 0.05)
    stuck = StuckCoordinator()
    with caplog.at_level(logging.WARNING, logger=consumer_module.__name__):
        # The outer bound only turns a hang into a failure here; the consumer's own ends it.
        await asyncio.wait_for(offsets_only_consumer()._commit(stuck, {PARTITION: 7}), 10)  # type: ignore[arg-type]
    assert stuck.asked == [{PARTITION: 7}]
    assert "offset commit failed (TimeoutError())" in caplog.text


async def test_a_commit_refused_after_a_rebalance_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = StuckCoordinator(CommitFailedError("the group has already rebalanced"))
    with caplog.at_level(logging.WARNING, logger=consumer_module.__name__):
        await offsets_only_consumer()._commit(refused, {PARTITION: 3})  # type: ignore[arg-type]
    assert refused.asked == [{PARTITION: 3}]
    assert "offset commit failed (CommitFailedError" in caplog.text


class SlowCoordinator:
    """An AIOKafkaConsumer whose commits each wait until `answer` is set."""

    def __init__(self) -> None:
        self.asked: list[dict[TopicPartition, int]] = []
        self.sought: list[tuple[TopicPartition, int]] = []
        self.answer = asyncio.Event()

    def assignment(self) -> set[TopicPartition]:
        return {PARTITION, OTHER}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.asked.append(dict(offsets))
        await self.answer.wait()

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.sought.append((partition, offset))


async def test_batches_with_more_waiting_commit_in_order_while_the_next_is_applied() -> None:
    consumer, slow = offsets_only_consumer(), SlowCoordinator()

    async def settle(done: dict[TopicPartition, int], *, more: bool) -> None:
        await consumer._settle(slow, Progress(done=done), more_waiting=more)  # type: ignore[arg-type]

    # A batch with more behind it does not wait for its commit (the outer bound only turns a hang into a failure).
    await asyncio.wait_for(settle({PARTITION: 10}, more=True), 1)
    await asyncio.sleep(0.01)
    assert slow.asked == [{PARTITION: 10}]
    # Two more while it is out: one commit at a time, the later offset of a partition wins.
    await asyncio.wait_for(settle({PARTITION: 20}, more=True), 1)
    await asyncio.wait_for(settle({PARTITION: 30, OTHER: 5}, more=True), 1)
    await asyncio.sleep(0.01)
    assert slow.asked == [{PARTITION: 10}]
    # A batch that reached the end (caught up) waits until its offsets are committed.
    last = asyncio.ensure_future(settle({OTHER: 6}, more=False))
    await asyncio.sleep(0.01)
    assert not last.done()
    slow.answer.set()
    await asyncio.wait_for(last, 1)
    assert slow.asked == [{PARTITION: 10}, {PARTITION: 30, OTHER: 6}]


async def test_once_stopping_every_batch_waits_for_its_commit() -> None:
    consumer, slow = offsets_only_consumer(), SlowCoordinator()
    await consumer._settle(slow, Progress(done={PARTITION: 10}), more_waiting=True)  # type: ignore[arg-type]
    finishing = asyncio.ensure_future(consumer.finish_commits())
    await asyncio.sleep(0.01)
    assert not finishing.done()  # the commit under way is waited for
    full = asyncio.ensure_future(
        consumer._settle(slow, Progress(done={PARTITION: 20}), more_waiting=True)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.01)
    assert not full.done()  # one with more waiting too, now
    slow.answer.set()
    await asyncio.wait_for(asyncio.gather(finishing, full), 1)
    assert slow.asked == [{PARTITION: 10}, {PARTITION: 20}]


async def test_a_revoke_waits_for_the_commit_under_way() -> None:
    consumer, slow = offsets_only_consumer(), SlowCoordinator()
    await consumer._settle(slow, Progress(done={PARTITION: 10}), more_waiting=True)  # type: ignore[arg-type]
    await asyncio.sleep(0.01)  # that commit is out
    revoking = asyncio.ensure_future(consumer.listener.on_partitions_revoked({PARTITION}))
    await asyncio.sleep(0.01)
    assert not revoking.done()  # the partition's done offset goes out while it is still ours
    slow.answer.set()
    await asyncio.wait_for(revoking, 1)
    assert slow.asked == [{PARTITION: 10}]


async def test_a_commit_outlasting_the_revoke_is_stopped_and_the_rest_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(consumer_module, "REVOKE_COMMIT_WAIT_S", 0.05)
    consumer, slow = offsets_only_consumer(), SlowCoordinator()
    await consumer._settle(slow, Progress(done={PARTITION: 10, OTHER: 3}), more_waiting=True)  # type: ignore[arg-type]
    await asyncio.sleep(0.01)  # that commit is out, and gets no answer
    await consumer._settle(slow, Progress(done={PARTITION: 20}), more_waiting=True)  # type: ignore[arg-type]
    await asyncio.wait_for(consumer.listener.on_partitions_revoked({PARTITION}), 1)
    # The commit under way was given up; the kept partition's offset goes with the next one.
    slow.answer.set()
    await asyncio.wait_for(consumer._commit_soon(slow, {}), 1)  # type: ignore[arg-type]
    assert slow.asked == [{PARTITION: 10, OTHER: 3}, {OTHER: 3}]


async def test_a_revoke_during_the_backoff_keeps_the_batch_off_that_partition() -> None:
    consumer, slow = offsets_only_consumer(), SlowCoordinator()
    slow.answer.set()
    consumer._backoff_s = 0.05
    # OTHER is read again after a backoff (the database was away); PARTITION is done.
    progress = Progress(done={PARTITION: 10}, rewind={OTHER: 2}, revocations=consumer.revocations)
    settling = asyncio.ensure_future(consumer._settle(slow, progress, more_waiting=False))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)  # in the backoff
    await consumer.listener.on_partitions_revoked({PARTITION})
    await asyncio.wait_for(settling, 1)
    assert slow.asked == []
    assert slow.sought == [(OTHER, 2)]


async def test_a_batch_read_before_a_revoke_leaves_those_partitions_alone() -> None:
    consumer, slow = offsets_only_consumer(), SlowCoordinator()
    slow.answer.set()
    read_before = Progress(done={PARTITION: 10, OTHER: 3}, revocations=consumer._revocations)
    await consumer.listener.on_partitions_revoked({PARTITION})
    # Assigned back since (SlowCoordinator has both): still not this batch's to commit.
    await consumer._settle(slow, read_before, more_waiting=False)  # type: ignore[arg-type]
    read_after = Progress(done={PARTITION: 12}, revocations=consumer._revocations)
    await consumer._settle(slow, read_after, more_waiting=False)  # type: ignore[arg-type]
    assert slow.asked == [{OTHER: 3}, {PARTITION: 12}]


class Assigned:
    """A consumer's assignment and the ends it last heard; like aiokafka's, `highwater` refuses
    a partition no longer assigned."""

    def __init__(self, highwater: dict[TopicPartition, int]) -> None:
        self._highwater = highwater

    def assignment(self) -> set[TopicPartition]:
        return set(self._highwater)

    def highwater(self, partition: TopicPartition) -> int:
        assert partition in self._highwater, "Partition is not assigned"
        return self._highwater[partition]


def _records(partition: TopicPartition, offsets: range) -> tuple[ConsumerRecord, ...]:
    return tuple(
        ConsumerRecord(partition.topic, partition.partition, n, 0, 0, None, b"", None, 0, 0, ())
        for n in offsets
    )


def test_more_waits_past_a_batch_on_the_partitions_still_assigned() -> None:
    consumer = Assigned({PARTITION: 10})
    assert past_batch(consumer, _records(PARTITION, range(3, 6)))  # type: ignore[arg-type]
    assert not past_batch(consumer, _records(PARTITION, range(5, 10)))  # type: ignore[arg-type]
    # A rebalance took OTHER away meanwhile: what is past it is no longer this consumer's.
    taken = _records(OTHER, range(0, 3))
    assert not past_batch(consumer, taken)  # type: ignore[arg-type]
