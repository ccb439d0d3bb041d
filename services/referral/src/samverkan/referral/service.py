"""Referral use cases: load → decide (domain) → save state and outbox event in one transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID

from samverkan.contracts.envelope import DataClassification, LegalBasis
from samverkan.contracts.referral import (
    Child,
    ConsentStatement,
    Need,
    ReferralAccepted,
    ReferralReceived,
    ReferralRejected,
    ReferralSent,
)
from samverkan.referral import store
from samverkan.referral.domain import NotAllowed, Referral, Staff
from samverkan.runtime import directory_view
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.node import Node


class NotFound(LookupError):
    """No such referral for this function (also when it exists but is not addressed to it)."""


class Rejected(ValueError):
    """An incoming event that can never be applied here."""


class Later(Exception):
    """An incoming event that cannot be applied yet."""


def _now() -> datetime:
    return datetime.now(UTC)


async def send(
    node: Node, by: Staff, *, need: Need, child: Child, reason: str, consent: ConsentStatement
) -> Referral:
    async with node.uow() as tx:
        recipient = await directory_view.counterpart(tx.conn, by.function, need, date.today())
        referral, event = Referral.send(
            by=by,
            recipient=recipient.ref,
            need=need,
            child=child,
            reason=reason,
            consent=consent,
            now=_now(),
        )
        await store.save(tx.conn, referral)
        await tx.publish(
            node.event(
                event,
                recipient=recipient.principal,
                legalbasis=LegalBasis.CONSENT,
                classification=DataClassification.PERSONAL,
            )
        )
    return referral


async def accept(node: Node, referral_id: UUID, by: Staff) -> Referral:
    async with node.uow() as tx:
        referral = await _get(tx, referral_id, by)
        event = referral.accept(by, now=_now())
        await store.save(tx.conn, referral)
        await tx.publish(node.event(event, recipient=referral.sender.principal))
    return referral


async def reject(node: Node, referral_id: UUID, by: Staff, *, code: str, text: str) -> Referral:
    async with node.uow() as tx:
        referral = await _get(tx, referral_id, by)
        event = referral.reject(by, code=code, text=text, now=_now())
        await store.save(tx.conn, referral)
        await tx.publish(
            node.event(
                event,
                recipient=referral.sender.principal,
                classification=DataClassification.PERSONAL,  # the reason text may describe the child
            )
        )
    return referral


async def get(node: Node, referral_id: UUID, by: Staff) -> Referral:
    async with node.pool.acquire() as conn:
        referral = await store.get(conn, referral_id)
    if referral is None or not referral.visible_to(by.function):
        raise NotFound(f"no referral {referral_id} for function {by.function.function}")
    return referral


async def _get(tx: UnitOfWork, referral_id: UUID, by: Staff) -> Referral:
    referral = await store.get(tx.conn, referral_id, for_update=True)
    if referral is None or not referral.visible_to(by.function):
        raise NotFound(f"no referral {referral_id} for function {by.function.function}")
    return referral


async def receive(node: Node, tx: UnitOfWork, sent: ReferralSent) -> None:
    """The recipient side: store a referral addressed here and send the technical receipt."""
    if await store.get(tx.conn, sent.referral_id) is not None:
        raise Rejected(f"referral {sent.referral_id} already exists here")
    if not await directory_view.exists(tx.conn, sent.recipient):
        # Our copy of the directory may lag behind the sender's; it routed validly.
        raise Later(f"function {sent.recipient.function} is not in this node's directory yet")
    referral, receipt = Referral.receive(sent, now=_now())
    await store.save(tx.conn, referral)
    await tx.publish(node.event(receipt, recipient=referral.sender.principal))


async def follow(
    tx: UnitOfWork, decision: ReferralReceived | ReferralAccepted | ReferralRejected
) -> None:
    """The sender side: the outgoing copy follows what the recipient did."""
    referral = await store.get(tx.conn, decision.referral_id, for_update=True)
    if referral is None:
        raise Rejected(f"no outgoing referral {decision.referral_id} here")
    try:
        moved = referral.follow(decision)
    except NotAllowed as exc:
        raise Rejected(str(exc)) from None
    if moved:
        await store.save(tx.conn, referral)
