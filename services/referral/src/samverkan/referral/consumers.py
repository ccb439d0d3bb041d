"""Reactions to other principals' referral events: check the source, call a use case."""

from __future__ import annotations

from samverkan.contracts import CloudEvent
from samverkan.contracts.referral import (
    ReferralAccepted,
    ReferralReceived,
    ReferralRejected,
    ReferralSent,
)
from samverkan.referral import service
from samverkan.runtime.consumer import NotYet, Refused
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.node import Node


def register(node: Node) -> None:
    async def referral_sent(tx: UnitOfWork, event: CloudEvent) -> None:
        assert isinstance(event.data, ReferralSent)
        if event.data.sender.principal != event.sourceprincipal:
            raise Refused("the sender function belongs to another principal than the event source")
        if event.data.recipient.principal != node.principal:
            raise Refused("the recipient function belongs to another principal than this node")
        try:
            await service.receive(node, tx, event.data)
        except service.Rejected as exc:
            raise Refused(str(exc)) from None
        except service.Later as exc:
            raise NotYet(str(exc)) from None

    async def recipient_acted(tx: UnitOfWork, event: CloudEvent) -> None:
        data = event.data
        assert isinstance(data, ReferralReceived | ReferralAccepted | ReferralRejected)
        if data.recipient.principal != event.sourceprincipal:
            raise Refused(
                "the recipient function belongs to another principal than the event source"
            )
        try:
            await service.follow(tx, data)
        except service.Rejected as exc:
            raise Refused(str(exc)) from None

    node.on(ReferralSent, referral_sent, addressed_to_me=True)
    for event_class in (ReferralReceived, ReferralAccepted, ReferralRejected):
        node.on(event_class, recipient_acted, addressed_to_me=True)
