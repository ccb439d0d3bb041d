"""Consent use cases: give, withdraw, expire; and what other holders' consent events do here."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from uuid import UUID

from samverkan.contracts.consent import (
    ConsentExpired,
    ConsentGiven,
    ConsentScope,
    ConsentWithdrawn,
    MaturityAssessment,
)
from samverkan.contracts.parties import Child, Decider, FunctionRef
from samverkan.contracts.referral import CancellationCause, ConsentStatement
from samverkan.referral.domain.consent import Consent, ConsentState, NotCovered
from samverkan.referral.domain.referral import Staff
from samverkan.referral.service import access
from samverkan.referral.service.context import Context, NotFound
from samverkan.referral.store import consents, referrals
from samverkan.runtime.db import UnitOfWork

log = logging.getLogger(__name__)

EXPIRY_INTERVAL_S = 60.0


async def give(
    ctx: Context,
    tx: UnitOfWork,
    by: Staff,
    *,
    child: Child,
    scope: ConsentScope,
    decided_by: Decider,
    guardians_consenting: int,
    maturity: MaturityAssessment | None,
) -> Consent:
    consent, given = Consent.give(
        by=by,
        child=child,
        scope=scope,
        decided_by=decided_by,
        guardians_consenting=guardians_consenting,
        maturity=maturity,
        now=ctx.now(),
    )
    await consents.save(tx.conn, consent)
    # Recipients learn the scope (they check it when forwarding); this node already has it.
    for principal in sorted(consent.recipient_principals() - {ctx.principal}):
        await ctx.publish(tx, given, recipient=principal)
    return consent


async def withdraw(
    ctx: Context, tx: UnitOfWork, by: Staff, consent_id: UUID, *, withdrawn_by: Decider
) -> Consent:
    consent = await _held(tx, consent_id, by, for_update=True)
    event = consent.withdraw(by, withdrawn_by=withdrawn_by, now=ctx.now())
    await _ended(ctx, tx, consent, event, CancellationCause.CONSENT_WITHDRAWN)
    return consent


async def expire_due(ctx: Context) -> int:
    """Expire every consent held here whose last valid day has passed; return how many."""
    expired = 0
    while True:
        async with ctx.uow() as tx:
            due = await consents.due_to_expire(tx.conn, ctx.today())
            for consent in due:
                event = consent.expire(now=ctx.now())
                await _ended(ctx, tx, consent, event, CancellationCause.CONSENT_EXPIRED)
        expired += len(due)
        if not due:
            return expired


def expiry_loop(ctx: Context, interval_s: float = EXPIRY_INTERVAL_S):  # type: ignore[no-untyped-def]
    async def expire_consents() -> None:
        while True:
            try:
                if n := await expire_due(ctx):
                    log.info("expired %d consent(s)", n)
            except Exception:
                log.exception("consent expiry failed; will try again")
            await asyncio.sleep(interval_s)

    return expire_consents


async def statement_for(
    ctx: Context, tx: UnitOfWork, by: Staff, consent_id: UUID, child: Child, recipient: FunctionRef
) -> ConsentStatement:
    """The statement a referral carries, if the consent held by `by` covers it."""
    consent = await consents.get(tx.conn, consent_id)
    if consent is None or not consent.visible_to(by.function):
        raise NotCovered(f"no consent {consent_id} is held by function {by.function.function}")
    return consent.covers(child, recipient, ctx.today())


async def statement_inline(
    ctx: Context,
    tx: UnitOfWork,
    by: Staff,
    *,
    child: Child,
    recipient: FunctionRef,
    purpose: str,
    decided_by: Decider,
    given_at: datetime,
) -> ConsentStatement:
    """Record a consent stated with the referral, scoped to exactly that referral."""
    consent = Consent.for_referral(
        by=by,
        child=child,
        recipient=recipient,
        purpose=purpose,
        decided_by=decided_by,
        given_at=given_at,
        now=ctx.now(),
    )
    await consents.save(tx.conn, consent)
    return consent.covers(child, recipient, ctx.today())


async def read(ctx: Context, tx: UnitOfWork, by: Staff, consent_id: UUID) -> Consent:
    consent = await _held(tx, consent_id, by)
    await access.log_read(ctx, tx, by, "consent", consent.id)
    return consent


# -- events from the holder's node ---------------------------------------------------------


async def given_elsewhere(tx: UnitOfWork, event: ConsentGiven) -> None:
    if await consents.get(tx.conn, event.consent_id) is None:
        await consents.save(tx.conn, Consent.received(event))


async def ended_elsewhere(
    ctx: Context, tx: UnitOfWork, event: ConsentWithdrawn | ConsentExpired
) -> None:
    withdrawn = isinstance(event, ConsentWithdrawn)
    at = event.withdrawn_at if isinstance(event, ConsentWithdrawn) else event.expired_at
    consent = await consents.get(tx.conn, event.consent_id, for_update=True)
    if consent is None:
        consent = Consent.tombstone(event.consent_id, event.holder)
    consent.ended_elsewhere(ConsentState.WITHDRAWN if withdrawn else ConsentState.EXPIRED, at)
    await consents.save(tx.conn, consent)
    cause = CancellationCause.CONSENT_WITHDRAWN if withdrawn else CancellationCause.CONSENT_EXPIRED
    await end_referrals(ctx, tx, consent, cause)


async def end_referrals(
    ctx: Context, tx: UnitOfWork, consent: Consent, cause: CancellationCause
) -> int:
    """Stop and purge every copy here that holds data shared under the consent; the holder's own
    outgoing copies keep their data and follow the recipients' cancellations."""
    ended = 0
    for referral in await referrals.under_consent(tx.conn, consent.id):
        if referral.own_function == consent.holder:
            continue
        event = referral.end_for_consent(cause, now=ctx.now())
        await referrals.save(tx.conn, referral)
        if event is not None:
            await ctx.publish(tx, event, recipient=referral.sender.principal)
        ended += 1
    return ended


async def _ended(
    ctx: Context,
    tx: UnitOfWork,
    consent: Consent,
    event: ConsentWithdrawn | ConsentExpired,
    cause: CancellationCause,
) -> None:
    await consents.save(tx.conn, consent)
    await end_referrals(ctx, tx, consent, cause)  # copies in this node's other functions
    for principal in sorted(consent.recipient_principals() - {ctx.principal}):
        await ctx.publish(tx, event, recipient=principal)


async def _held(
    tx: UnitOfWork, consent_id: UUID, by: Staff, *, for_update: bool = False
) -> Consent:
    consent = await consents.get(tx.conn, consent_id, for_update=for_update)
    if consent is None or not consent.visible_to(by.function):
        raise NotFound(f"no consent {consent_id} for function {by.function.function}")
    return consent


def cause_of(state: ConsentState) -> CancellationCause:
    if state is ConsentState.EXPIRED:
        return CancellationCause.CONSENT_EXPIRED
    return CancellationCause.CONSENT_WITHDRAWN
