"""Referral use cases for staff: the sender's and the recipient's moves, one transaction each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from samverkan.contracts import Event
from samverkan.contracts.parties import Child, Decider, FunctionRef, Need
from samverkan.contracts.referral import ConsentStatement, SupersessionCause
from samverkan.referral.domain.consent import NotCovered
from samverkan.referral.domain.lifecycle import Status
from samverkan.referral.domain.referral import Direction, Referral, Staff
from samverkan.referral.service import access, consents, lead_times
from samverkan.referral.service.context import Context, NotFound
from samverkan.referral.store import consents as consent_store
from samverkan.referral.store import referrals
from samverkan.runtime import directory_view
from samverkan.runtime.db import UnitOfWork


@dataclass(frozen=True)
class InlineConsent:
    """A consent stated with the referral instead of recorded first."""

    decided_by: Decider
    purpose: str
    given_at: datetime


async def send(
    ctx: Context,
    tx: UnitOfWork,
    by: Staff,
    *,
    need: Need,
    child: Child,
    reason: str,
    consent_id: UUID | None = None,
    inline: InlineConsent | None = None,
    draft: bool = False,
) -> Referral:
    """Send a referral to the counterpart of the caller's function (or keep it as a draft)."""
    recipient = await directory_view.counterpart(tx.conn, by.function, need, ctx.today())
    referral = Referral.draft(
        by=by, recipient=recipient.ref, need=need, child=child, reason=reason, now=ctx.now()
    )
    if not draft:
        await _send(ctx, tx, by, referral, consent_id, inline)
    await referrals.save(tx.conn, referral)
    return referral


async def send_draft(
    ctx: Context,
    tx: UnitOfWork,
    by: Staff,
    referral_id: UUID,
    *,
    consent_id: UUID | None,
    inline: InlineConsent | None,
) -> Referral:
    referral = await load(tx, referral_id, by)
    await _send(ctx, tx, by, referral, consent_id, inline)
    await referrals.save(tx.conn, referral)
    return referral


async def withdraw_draft(ctx: Context, tx: UnitOfWork, by: Staff, referral_id: UUID) -> Referral:
    referral = await load(tx, referral_id, by)
    referral.withdraw(by, now=ctx.now())
    await referrals.save(tx.conn, referral)
    return referral


async def reopen(
    ctx: Context, tx: UnitOfWork, by: Staff, referral_id: UUID, *, reason: str
) -> Referral:
    """A new draft that supersedes a closed referral; sent later under a valid consent."""
    old = await load(tx, referral_id, by)
    new = old.reopen(by, reason=reason, now=ctx.now())
    event = old.supersede(new.id, SupersessionCause.CORRECTED, now=ctx.now())
    await referrals.save(tx.conn, new)
    await referrals.save(tx.conn, old)
    await ctx.publish(tx, event, recipient=old.recipient.principal)
    return new


async def forward(
    ctx: Context, tx: UnitOfWork, by: Staff, referral_id: UUID, *, to: FunctionRef, text: str
) -> Referral:
    """End the referral here and send it on to `to`, within the consent's scope."""
    referral = await load(tx, referral_id, by)
    target = await directory_view.function(tx, to, ctx.today())
    new, forwarded = referral.forward(by, to=target.ref, text=text, now=ctx.now())
    consent_id = referral.consent.consent_id if referral.consent else None
    consent = await consent_store.get(tx.conn, consent_id) if consent_id else None
    if consent is None:
        raise NotCovered("the consent's scope is not known here, so it cannot be forwarded")
    assert new.child is not None
    sent = new.send(by, consent.covers(new.child, target.ref, ctx.today()), now=ctx.now())
    await referrals.save(tx.conn, referral)
    await referrals.save(tx.conn, new)
    await ctx.publish(tx, forwarded, recipient=referral.sender.principal)
    await ctx.publish(tx, sent, recipient=target.principal)
    return new


async def act(
    ctx: Context,
    tx: UnitOfWork,
    by: Staff,
    referral_id: UUID,
    move: Callable[[Referral], Event],
) -> Referral:
    """One move on the caller's copy; the event goes to the other copy's principal."""
    referral = await load(tx, referral_id, by)
    before = referral.status
    event = move(referral)
    await referrals.save(tx.conn, referral)
    lead_times.measure(tx, referral, before)
    other = referral.sender if referral.direction is Direction.INCOMING else referral.recipient
    await ctx.publish(tx, event, recipient=other.principal)
    return referral


async def read(ctx: Context, tx: UnitOfWork, by: Staff, referral_id: UUID) -> Referral:
    """One referral with its personal content; the read is access-logged."""
    referral = await referrals.get_for(tx.conn, referral_id, by.function)
    if referral is None:
        raise NotFound(f"no referral {referral_id} for function {by.function.function}")
    if referral.purged_at is None:
        await access.log_read(ctx, tx, by, "referral", referral.id)
    return referral


async def listing(
    ctx: Context,
    tx: UnitOfWork,
    by: Staff,
    *,
    direction: Direction,
    statuses: list[Status],
    limit: int,
    offset: int,
) -> tuple[list[Referral], int]:
    return await referrals.list_for(tx.conn, by.function, direction, statuses, limit, offset)


async def load(tx: UnitOfWork, referral_id: UUID, by: Staff) -> Referral:
    referral = await referrals.get_for(tx.conn, referral_id, by.function, for_update=True)
    if referral is None:
        raise NotFound(f"no referral {referral_id} for function {by.function.function}")
    return referral


async def _send(
    ctx: Context,
    tx: UnitOfWork,
    by: Staff,
    referral: Referral,
    consent_id: UUID | None,
    inline: InlineConsent | None,
) -> None:
    assert referral.child is not None
    statement: ConsentStatement
    if consent_id is not None:
        statement = await consents.statement_for(
            ctx, tx, by, consent_id, referral.child, referral.recipient
        )
    elif inline is not None:
        statement = await consents.statement_inline(
            ctx,
            tx,
            by,
            child=referral.child,
            recipient=referral.recipient,
            purpose=inline.purpose,
            decided_by=inline.decided_by,
            given_at=inline.given_at,
        )
    else:
        raise NotCovered(
            "a referral carries personal data and needs a consent covering it: give consent_id"
        )
    event = referral.send(by, statement, now=ctx.now())
    await ctx.publish(tx, event, recipient=referral.recipient.principal)
