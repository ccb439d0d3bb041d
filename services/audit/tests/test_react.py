"""Acting on a recorded event: witnessing, which may log a fork alarm, waits for the verdict on
its batch's signatures (a batch applied together is handled while they are being checked)."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from samverkan.audit import service, witnessing
from samverkan.audit.context import AuditContext
from samverkan.contracts import CloudEvent
from samverkan.contracts.audit import CheckpointSigned
from samverkan.contracts.directory import FunctionPublished
from samverkan.contracts.examples import example
from samverkan.runtime.consumer import Refused

pytestmark = pytest.mark.unit

CTX = AuditContext(principal="vastra-regionen", pseudonym_key=b"k", wrap=CloudEvent.wrap)


class BatchTransaction:
    """What `_react` reads of a transaction applying a batch together."""

    def __init__(self, verified: asyncio.Future[None]) -> None:
        self.applies_together = True
        self.verified = verified


def checkpoint() -> CloudEvent:
    data = CheckpointSigned(
        principal="sjostad-kommun",
        tree_size=7,
        root_hash="ab" * 32,
        key_id="key-1",
        signature=base64.b64encode(bytes(64)).decode(),
        signed_at=datetime.now(UTC),
    )
    return CloudEvent.wrap(data, principal="sjostad-kommun", service="audit")


@pytest.fixture
def witnessed(monkeypatch: pytest.MonkeyPatch) -> list[CloudEvent]:
    seen: list[CloudEvent] = []

    async def witness(tx: Any, ctx: AuditContext, event: CloudEvent) -> None:
        seen.append(event)

    monkeypatch.setattr(witnessing, "witness", witness)
    return seen


async def test_a_checkpoint_whose_batch_fails_its_signatures_is_not_witnessed(
    witnessed: list[CloudEvent],
) -> None:
    verdict: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    verdict.set_exception(Refused("security: the signature does not verify"))
    with pytest.raises(Refused):
        await service._react(BatchTransaction(verdict), CTX, checkpoint())  # type: ignore[arg-type]
    assert witnessed == []


async def test_a_checkpoint_is_witnessed_once_its_batch_is_verified(
    witnessed: list[CloudEvent],
) -> None:
    verdict: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    event = checkpoint()
    reacting = asyncio.ensure_future(service._react(BatchTransaction(verdict), CTX, event))  # type: ignore[arg-type]
    try:
        await asyncio.sleep(0.01)
        assert witnessed == []  # still waiting for the verdict
        verdict.set_result(None)
        await reacting
    finally:
        reacting.cancel()
    assert witnessed == [event]


async def test_a_directory_entry_is_applied_without_waiting_for_the_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Most of a batch's acting is on directory events: it writes to the transaction only."""
    applied: list[CloudEvent] = []

    async def apply(tx: Any, event: CloudEvent) -> None:
        applied.append(event)

    monkeypatch.setattr(service.directory_view, "apply", apply)
    verdict: asyncio.Future[None] = asyncio.get_running_loop().create_future()  # never reached
    data = example(FunctionPublished)
    entry = CloudEvent.wrap(data, principal=data.principal, service="directory")
    await asyncio.wait_for(service._react(BatchTransaction(verdict), CTX, entry), 5)  # type: ignore[arg-type]
    assert applied == [entry]
