"""What other nodes' referral events do to this node's copies (called by the consumers)."""

from __future__ import annotations

from samverkan.contracts.referral import ReferralForwarded, ReferralSent, SupersessionCause
from samverkan.referral.domain.consent import ConsentState
from samverkan.referral.domain.lifecycle import NotAllowed
from samverkan.referral.domain.referral import Direction, FromRecipient, FromSender, Referral
from samverkan.referral.service import consents
from samverkan.referral.service.context import Context, Later, Rejected
from samverkan.referral.store import consents as consent_store
from samverkan.referral.store import referrals
from samverkan.runtime import directory_view
from samverkan.runtime.db import UnitOfWork


async def receive(ctx: Context, tx: UnitOfWork, sent: ReferralSent) -> None:
    """Store a referral addressed here and send the technical receipt (no person involved)."""
    referral, receipt = Referral.receive(sent, now=ctx.now())
    if tx.applies_together:
        # Held back with the batch's other new copies (one round trip); should one exist, the
        # batch fails, and is applied in parts, down to that event alone, where `add` below
        # refuses it.
        await tx.write_held(referrals.HELD, *referrals.insertion(referral))
    elif not await referrals.add(tx.conn, referral):
        raise Rejected(f"referral {sent.referral_id} already exists here")
    if not await directory_view.exists(tx, sent.recipient):
        # Our copy of the directory may lag behind the sender's; it routed validly.
        raise Later(f"function {sent.recipient.function} is not in this node's directory yet")
    await ctx.publish(tx, receipt, recipient=referral.sender.principal)
    consent_id = sent.consent.consent_id
    consent = await consent_store.get(tx.conn, consent_id) if consent_id else None
    if consent is not None and consent.state is not ConsentState.ACTIVE:
        # The withdrawal overtook the referral (they travel on different topics).
        await tx.flush(referrals.HELD)
        await consents.end_referrals(ctx, tx, consent, consents.cause_of(consent.state))


async def follow(ctx: Context, tx: UnitOfWork, event: FromRecipient | FromSender) -> None:
    """The other copy moved: this one follows (sender's copy ← recipient, and back)."""
    direction = Direction.INCOMING if isinstance(event, FromSender) else Direction.OUTGOING
    referral = await referrals.get(tx.conn, event.referral_id, direction, for_update=True)
    if referral is None:
        raise Rejected(f"no {direction.value} referral {event.referral_id} here")
    try:
        moved = referral.follow(event)
    except NotAllowed as exc:
        raise Rejected(str(exc)) from None
    if not moved:
        return
    if isinstance(event, ReferralForwarded):
        superseded = referral.supersede(
            event.new_referral_id, SupersessionCause.FORWARDED, now=ctx.now()
        )
        await ctx.publish(tx, superseded, recipient=referral.recipient.principal)
    await referrals.save(tx.conn, referral)
