"""How many records consumer groups have yet to commit, read from outside the groups."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from types import TracebackType
from typing import Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


class GroupLag:
    """Per group, the records on its topics' partitions past its committed offsets.

    Each reader only asks for its group's committed offsets: it never joins the group, so the
    group's members keep their partitions. The ends are the broker's answer to ListOffsets. On
    Kafka that is each partition's end; the embedded broker answers with its last record
    batch's first offset + 1, so there the count leaves out all but the first record of each
    partition's last batch (a lower bound: more than zero always means records are left).
    Given `ends` (say, from the produce acknowledgements of a backlog), it counts only up to
    them, on their partitions, and asks the broker for none.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        groups: Mapping[str, tuple[str, ...]],
        ends: Mapping[TopicPartition, int] | None = None,
    ) -> None:
        self._groups = dict(groups)
        self._bootstrap = bootstrap_servers
        self._ends = None if ends is None else dict(ends)
        self._readers: dict[str, AIOKafkaConsumer] = {}
        self._partitions: dict[str, list[TopicPartition]] = {}
        self._clients = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Self:
        topics = {t for topics in self._groups.values() for t in topics}
        if self._ends is not None:
            for topic in topics:
                self._partitions[topic] = sorted(p for p in self._ends if p.topic == topic)
        else:
            await self._find_partitions(topics)
        async with contextlib.AsyncExitStack() as starting:  # stops those started if one fails
            for group in self._groups:
                reader = AIOKafkaConsumer(
                    bootstrap_servers=self._bootstrap, group_id=group, enable_auto_commit=False
                )
                starting.push_async_callback(reader.stop)
                await reader.start()
                self._readers[group] = reader
            self._clients = starting.pop_all()
        return self

    async def _find_partitions(self, topics: set[str]) -> None:
        metadata = AIOKafkaProducer(bootstrap_servers=self._bootstrap)
        try:
            await metadata.start()  # stopping a client that did not start is harmless
            for topic in topics:
                numbers = await metadata.partitions_for(topic)
                self._partitions[topic] = [TopicPartition(topic, n) for n in sorted(numbers)]
        finally:
            await metadata.stop()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._clients.aclose()

    async def unread(self) -> int:
        """Records not yet committed, over every group (a partition never committed counts whole)."""
        lag = 0
        for group, reader in self._readers.items():
            read = [p for topic in self._groups[group] for p in self._partitions[topic]]
            ends = self._ends if self._ends is not None else await reader.end_offsets(read)
            for partition in read:
                committed = (await reader.committed(partition)) or 0
                # Past the end as the broker told it (see above), or committed since it told.
                lag += max(ends[partition] - committed, 0)
        return lag
