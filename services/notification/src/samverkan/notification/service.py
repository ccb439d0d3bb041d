"""Notification use cases on an incoming event: record the mails, webhook calls and deadlines it
causes, in the consumer's transaction. Workers send them afterwards (see delivery.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from samverkan.contracts import CloudEvent
from samverkan.contracts.referral import ReferralSent
from samverkan.notification import deadlines, messages, routing, store, webhook_payload
from samverkan.notification.clock import Clock
from samverkan.notification.settings import NotificationSettings
from samverkan.runtime import directory_view
from samverkan.runtime.consumer import NotYet, Refused
from samverkan.runtime.db import UnitOfWork

log = logging.getLogger(__name__)

_SUBSCRIPTIONS = "notification.subscriptions"  # in a transaction's memo: subscriptions by type


@dataclass(frozen=True)
class Context:
    principal: str
    settings: NotificationSettings
    clock: Clock


async def on_event(ctx: Context, tx: UnitOfWork, event: CloudEvent) -> bool:
    """Everything this principal does about one event it may see; nothing for any other.
    True when it recorded a delivery to make (a mail or a webhook call)."""
    if not routing.concerns(event, ctx.principal):
        return False
    data = event.data
    referral_id = getattr(data, "referral_id", None)
    parties = await _watch(ctx, tx, event, data) if isinstance(data, ReferralSent) else None
    if referral_id is not None:
        await _meet(ctx, tx, event, referral_id)
        parties = parties or await store.parties(tx, referral_id)
    orders = routing.mails(event, ctx.principal, parties)
    for order in orders:
        await _record_mail(ctx, tx, event, order)
    calls = 0
    if webhook_payload.deliverable(event, ctx.principal):
        calls = await _record_webhooks(ctx, tx, event)
    return bool(orders) or calls > 0


async def _watch(
    ctx: Context, tx: UnitOfWork, event: CloudEvent, sent: ReferralSent
) -> routing.Parties:
    """Remember both parties, and watch the deadline this principal owes or is owed."""
    if sent.sender.principal != event.sourceprincipal:
        raise Refused("the sender function belongs to another principal than the event source")
    if event.recipientprincipal == ctx.principal and sent.recipient.principal != ctx.principal:
        raise Refused("the recipient function belongs to another principal than the event names")
    parties = routing.Parties(sender=sent.sender, recipient=sent.recipient)
    store.save_parties(tx, sent.referral_id, parties)
    s = ctx.settings
    if sent.sender.principal == ctx.principal:
        days = s.receipt_deadline_working_days
        due = deadlines.due_at(sent.sent_at, days)
        store.watch_deadline(tx, sent.referral_id, "not-received", days, due)
    if sent.recipient.principal == ctx.principal:
        days = s.decision_deadline_working_days
        due = deadlines.due_at(sent.sent_at, days)
        store.watch_deadline(tx, sent.referral_id, "not-decided", days, due)
    return parties


async def _meet(ctx: Context, tx: UnitOfWork, event: CloudEvent, referral_id: object) -> None:
    stages = []
    if isinstance(event.data, routing.MEETS_RECEIPT):
        stages.append("not-received")
    if isinstance(event.data, routing.MEETS_DECISION):
        stages.append("not-decided")
    if stages:
        await store.meet_deadlines(tx, referral_id, stages, ctx.clock.now())  # type: ignore[arg-type]


async def _record_mail(
    ctx: Context, tx: UnitOfWork, event: CloudEvent, order: routing.MailOrder
) -> None:
    now = ctx.clock.now()
    try:
        function = await directory_view.function(tx, order.to, now.date())
    except directory_view.NoRoute as exc:
        raise NotYet(str(exc)) from None  # our directory copy may lag behind the sender's
    mail = messages.render(
        order.kind,
        function_name=function.name,
        unit_name=function.unit_name,
        reference=order.reference,
        link=f"{ctx.settings.inbox_url.rstrip('/')}{order.link_path}",
        status=order.status,
        language=ctx.settings.mail_language,
    )
    store.add_mail(
        tx,
        id=uuid4(),
        about_event=event.id,
        about_type=event.type,
        kind=order.kind,
        principal=function.principal,
        function=function.function,
        mailbox=function.mailbox,
        subject=mail.subject,
        body=mail.body,
        now=now,
    )


async def _record_webhooks(ctx: Context, tx: UnitOfWork, event: CloudEvent) -> int:
    """Record a call to each of this principal's subscriptions to the event; return how many."""
    recorded = 0
    for subscription in await _subscriptions_for(tx, event.type):
        if subscription["principal"] != ctx.principal:
            continue  # never another principal's subscription, whatever the table holds
        recorded += 1
        store.add_webhook_delivery(
            tx,
            id=uuid4(),
            subscription_id=subscription["id"],
            about_event=event.id,
            about_type=event.type,
            payload=webhook_payload.structured(
                event, include_personal_data=subscription["include_personal_data"]
            ),
            now=ctx.clock.now(),
        )
    return recorded


async def _subscriptions_for(tx: UnitOfWork, event_type: str) -> list[Any]:
    """The subscriptions to `event_type` as the transaction first asked: one query per type for a
    whole batch of events, not one per event. A subscription made meanwhile counts from the next
    batch on, as it would had it been made a moment later."""
    found: dict[str, list[Any]] = tx.memo.setdefault(_SUBSCRIPTIONS, {})
    if event_type not in found:
        found[event_type] = await store.subscriptions_for(tx.conn, event_type)
    return found[event_type]
