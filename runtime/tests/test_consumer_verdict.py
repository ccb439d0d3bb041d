"""Where the consumer waits for the signatures' verdict: a batch applied together hands it to its
transaction (awaited before the commit, readable by handlers); an event applied alone waits for
it before its inbox claim. And the collector's pause during a batch has a limit."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Collection, Sequence
from uuid import UUID

import pytest
from aiokafka import ConsumerRecord

from samverkan.contracts import CloudEvent
from samverkan.contracts.directory import FunctionPublished
from samverkan.contracts.examples import example
from samverkan.runtime import consumer as consumer_module
from samverkan.runtime.consumer import EventConsumer, Item, Route, collector_paused

pytestmark = pytest.mark.unit


class Transaction:
    """What the consumer uses of a UnitOfWork while it applies events."""

    def __init__(self, *, together: bool, verdict: asyncio.Future[None]) -> None:
        self.applies_together = together
        self.verified: Awaitable[None] | None = None
        self.before: list[Callable[[], Awaitable[None]]] = []
        self._verdict = verdict
        self.verdict_in_at_claim: bool | None = None

    def before_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        self.before.append(callback)

    async def claim(self, consumer: str, event_ids: Collection[UUID]) -> set[UUID]:
        self.verdict_in_at_claim = self._verdict.done()
        return set(event_ids)


def event() -> CloudEvent:
    data = example(FunctionPublished)
    return CloudEvent.wrap(data, principal=data.principal, service="directory")


def setup(
    verdict: asyncio.Future[None],
) -> tuple[EventConsumer, Item, list[Awaitable[None] | None]]:
    """A consumer whose verifier returns `verdict`, and one item whose handler notes what its
    transaction's `verified` was."""

    async def verify(tx: object, events: Sequence[object]) -> asyncio.Future[None]:
        return verdict

    seen: list[Awaitable[None] | None] = []

    async def apply(tx: Transaction, event: CloudEvent, record: ConsumerRecord) -> None:
        seen.append(tx.verified)

    consumer = EventConsumer(
        group="audit",
        principal="vastra-regionen",
        uow=lambda: None,  # type: ignore[arg-type,return-value]
        dead_letter=lambda letter: None,  # type: ignore[arg-type,return-value]
        max_attempts=1,
        retry_window_s=1.0,
        commit_interval_s=0.0,
        verify=verify,  # type: ignore[arg-type]
    )
    found = event()
    record = ConsumerRecord("samverkan.directory.v1", 0, 0, 0, 0, None, b"{}", None, 0, 2, ())
    return consumer, Item(record, event=found, route=Route(apply, False)), seen  # type: ignore[arg-type]


async def test_a_batch_applied_together_is_handled_while_its_verdict_is_reached() -> None:
    verdict: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    consumer, item, seen = setup(verdict)
    tx = Transaction(together=True, verdict=verdict)
    assert await consumer._apply_in(tx, [item], traced=False) == 1  # type: ignore[arg-type]
    assert not verdict.done()  # claimed and handled without it
    assert tx.verdict_in_at_claim is False
    assert seen == [verdict]  # the handler could await it
    assert [callback() for callback in tx.before] == [verdict]  # awaited before the commit


async def test_an_event_applied_alone_waits_for_its_verdict_before_its_claim() -> None:
    loop = asyncio.get_running_loop()
    verdict: asyncio.Future[None] = loop.create_future()
    consumer, item, seen = setup(verdict)
    tx = Transaction(together=False, verdict=verdict)
    loop.call_later(0.01, verdict.set_result, None)
    assert await consumer._apply_in(tx, [item], traced=False) == 1  # type: ignore[arg-type]
    assert tx.verdict_in_at_claim is True
    assert seen == [None] and tx.before == []


async def test_the_collectors_pause_ends_after_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer_module, "COLLECTOR_PAUSE_LIMIT_S", 0.01)
    with collector_paused():
        assert not gc.isenabled()
        await asyncio.sleep(0.1)  # a batch waiting on a database that is away, say
        assert gc.isenabled()
    assert gc.isenabled()


async def test_the_collector_runs_again_when_a_batch_fails() -> None:
    with pytest.raises(ZeroDivisionError), collector_paused():
        assert not gc.isenabled()
        _ = 1 / 0
    assert gc.isenabled()
