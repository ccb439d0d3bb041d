"""Consumer lag: records the broker holds on each assigned partition that the service has not
read yet (highwater − position), sampled now and then from the consumer FastStream runs.

Both numbers are the consumer's own, with no request to the broker: highwater comes with every
fetch, and the position stays at an unapplied record because the consumer seeks back to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from opentelemetry.metrics import CallbackOptions, Observation

from samverkan.runtime import telemetry

log = logging.getLogger(__name__)

_SAMPLERS: list[LagSampler] = []


def _observe(_: CallbackOptions) -> list[Observation]:
    return [
        Observation(lag, {"consumer": s.group, "topic": tp.topic, "partition": tp.partition})
        for s in _SAMPLERS
        for tp, lag in s.lags.items()
    ]


telemetry.meter.create_observable_gauge(
    "samverkan.consumer.lag",
    [_observe],
    unit="{record}",
    description="Records on an assigned partition not yet read by the service's consumer",
)


class LagSampler:
    def __init__(
        self, group: str, consumer: Callable[[], AIOKafkaConsumer | None], interval_s: float
    ) -> None:
        self.group = group
        self._consumer = consumer
        self._interval_s = interval_s
        self.lags: dict[TopicPartition, int] = {}

    async def run(self) -> None:
        """Sample until cancelled; the gauge reports the last sample."""
        _SAMPLERS.append(self)
        try:
            while True:
                await asyncio.sleep(self._interval_s)
                try:
                    self.lags = await self.sample()
                except Exception as exc:  # a rebalance in between: the next sample will do
                    log.debug("consumer lag not sampled: %s", exc)
        finally:
            _SAMPLERS.remove(self)

    async def sample(self) -> dict[TopicPartition, int]:
        consumer = self._consumer()
        if consumer is None:
            return {}
        lags = {}
        for partition in consumer.assignment():
            highwater = consumer.highwater(partition)
            if highwater is None:  # nothing fetched from it yet
                continue
            try:  # immediate, unless the position is being reset (after a rebalance)
                async with asyncio.timeout(1.0):  # not wait_for: see runtime/waits.py
                    position = await consumer.position(partition)
            except TimeoutError:
                continue
            lags[partition] = max(highwater - position, 0)
        return lags
