"""How many records consumer groups have yet to commit, read from outside the groups."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition


class GroupLag:
    """Per group, the records on its topics' partitions past its committed offsets.

    Each reader only asks for its group's committed offsets: it never joins the group, so the
    group's members keep their partitions.
    """

    def __init__(self, bootstrap_servers: str, groups: Mapping[str, tuple[str, ...]]) -> None:
        self._groups = dict(groups)
        self._bootstrap = bootstrap_servers
        self._readers = {
            group: AIOKafkaConsumer(
                bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
            )
            for group in self._groups
        }
        self._partitions: dict[str, list[TopicPartition]] = {}

    async def __aenter__(self) -> Self:
        metadata = AIOKafkaProducer(bootstrap_servers=self._bootstrap)
        await metadata.start()
        try:
            for topic in {t for topics in self._groups.values() for t in topics}:
                numbers = await metadata.partitions_for(topic)
                self._partitions[topic] = [TopicPartition(topic, n) for n in sorted(numbers)]
        finally:
            await metadata.stop()
        for reader in self._readers.values():
            await reader.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for reader in self._readers.values():
            await reader.stop()

    async def unread(self) -> int:
        """Records not yet committed, over every group (a partition never committed counts whole)."""
        lag = 0
        for group, reader in self._readers.items():
            read = [p for topic in self._groups[group] for p in self._partitions[topic]]
            ends = await reader.end_offsets(read)
            for partition in read:
                lag += ends[partition] - ((await reader.committed(partition)) or 0)
        return max(lag, 0)
