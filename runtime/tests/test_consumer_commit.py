"""Offset commits: one that never finishes must not stall the consumer (it gives up and goes
on); a batch's commit goes out while the next batch is applied, one commit at a time and at
most one a commit interval, which a stop or a revoke cuts short."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError
from support import offsets_only_consumer

from samverkan.runtime import consumer as consumer_module
from samverkan.runtime.consumer import EventConsumer, Progress

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


async def settle(
    consumer: EventConsumer, slow: SlowCoordinator, done: dict[TopicPartition, int]
) -> None:
    # The outer bound only turns a hang into a failure: a batch never waits for its commit.
    await asyncio.wait_for(consumer._settle(slow, Progress(done=done)), 1)  # type: ignore[arg-type]


async def committed(consumer: EventConsumer) -> None:
    """Until the commits asked for so far have gone out (answered or given up)."""
    if consumer._committer is not None:
        await asyncio.wait_for(consumer._committer, 5)


async def test_batches_commit_in_order_while_the_next_are_applied() -> None:
    consumer, slow = offsets_only_consumer(), SlowCoordinator()
    await settle(consumer, slow, {PARTITION: 10})
    await asyncio.sleep(0.01)
    assert slow.asked == [{PARTITION: 10}]
    # Two more while it is out: one commit at a time, the later offset of a partition wins.
    await settle(consumer, slow, {PARTITION: 20})
    await settle(consumer, slow, {PARTITION: 30, OTHER: 5})
    await settle(consumer, slow, {OTHER: 6})
    await asyncio.sleep(0.01)
    assert slow.asked == [{PARTITION: 10}]
    slow.answer.set()
    await committed(consumer)
    assert slow.asked == [{PARTITION: 10}, {PARTITION: 30, OTHER: 6}]


async def test_offsets_done_within_an_interval_go_out_together() -> None:
    consumer, slow = offsets_only_consumer(), SlowCoordinator()
    consumer._commit_interval_s = 1.0
    slow.answer.set()
    for offset in (10, 11, 12, 13):  # one event a batch, as live traffic comes
        await settle(consumer, slow, {PARTITION: offset})
        await asyncio.sleep(0.05)
    assert slow.asked == []  # they wait out the interval, together
    await committed(consumer)
    assert slow.asked == [{PARTITION: 13}]


@pytest.mark.parametrize("ending", ["stop", "revoke"])
async def test_a_stop_or_a_revoke_cuts_the_commit_interval_short(ending: str) -> None:
    consumer, slow = offsets_only_consumer(), SlowCoordinator()
    consumer._commit_interval_s = 60.0
    slow.answer.set()
    await settle(consumer, slow, {PARTITION: 10})
    await settle(consumer, slow, {PARTITION: 11, OTHER: 4})
    await asyncio.sleep(0.01)
    assert slow.asked == []
    if ending == "stop":
        await asyncio.wait_for(consumer.finish_commits(), 1)
    else:  # what is done of the revoked partition goes out while it is still ours
        await asyncio.wait_for(consumer.listener.on_partitions_revoked({PARTITION}), 1)
    assert slow.asked == [{PARTITION: 11, OTHER: 4}]


async def test_a_batch_done_during_a_revokes_commit_goes_out_without_an_interval() -> None:
    consumer, slow = offsets_only_consumer(), SlowCoordinator()
    consumer._commit_interval_s = 60.0
    await settle(consumer, slow, {PARTITION: 10})  # waits out the interval
    revoking = asyncio.ensure_future(consumer.listener.on_partitions_revoked({PARTITION}))
    await asyncio.sleep(0.01)
    assert slow.asked == [{PARTITION: 10}]  # the revoke's commit, slow to answer
    await settle(consumer, slow, {OTHER: 5})  # a batch of a partition kept
    slow.answer.set()
    # The revoke waits for that one too, which goes out at once, not after the interval.
    await asyncio.wait_for(revoking, 1)
    assert slow.asked == [{PARTITION: 10}, {OTHER: 5}]


async def test_once_stopping_every_batch_waits_for_its_commit() -> None:
    consumer, slow = offsets_only_consumer(), SlowCoordinator()
    await settle(consumer, slow, {PARTITION: 10})
    finishing = asyncio.ensure_future(consumer.finish_commits())
    await asyncio.sleep(0.01)
    assert not finishing.done()  # the commit under way is waited for
    full = asyncio.ensure_future(
        consumer._settle(slow, Progress(done={PARTITION: 20}))  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.01)
    assert not full.done()  # a batch waits for its commit now
    slow.answer.set()
    await asyncio.wait_for(asyncio.gather(finishing, full), 1)
    assert slow.asked == [{PARTITION: 10}, {PARTITION: 20}]


async def test_a_revoke_waits_for_the_commit_under_way() -> None:
    consumer, slow = offsets_only_consumer(), SlowCoordinator()
    await settle(consumer, slow, {PARTITION: 10})
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
    await settle(consumer, slow, {PARTITION: 10, OTHER: 3})
    await asyncio.sleep(0.01)  # that commit is out, and gets no answer
    await settle(consumer, slow, {PARTITION: 20})
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
    settling = asyncio.ensure_future(consumer._settle(slow, progress))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)  # in the backoff
    await consumer.listener.on_partitions_revoked({PARTITION})
    await asyncio.wait_for(settling, 1)
    await committed(consumer)
    assert slow.asked == []
    assert slow.sought == [(OTHER, 2)]


async def test_a_batch_read_before_a_revoke_leaves_those_partitions_alone() -> None:
    consumer, slow = offsets_only_consumer(), SlowCoordinator()
    slow.answer.set()
    read_before = Progress(done={PARTITION: 10, OTHER: 3}, revocations=consumer._revocations)
    await consumer.listener.on_partitions_revoked({PARTITION})
    # Assigned back since (SlowCoordinator has both): still not this batch's to commit.
    await consumer._settle(slow, read_before)  # type: ignore[arg-type]
    await committed(consumer)
    read_after = Progress(done={PARTITION: 12}, revocations=consumer._revocations)
    await consumer._settle(slow, read_after)  # type: ignore[arg-type]
    await committed(consumer)
    assert slow.asked == [{OTHER: 3}, {PARTITION: 12}]
