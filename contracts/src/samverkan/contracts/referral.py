"""Referral events (remiss / samverkansförfrågan) up to a decision, keyed by referral id.

What happens after acceptance (meetings, pauses, completion) is in `followup`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, Field

from samverkan.contracts import topics
from samverkan.contracts.events import PAYLOAD_CONFIG, DataClassification, Event, LegalBasis
from samverkan.contracts.parties import Child, Decider, FunctionRef, Need
from samverkan.contracts.values import FreeText, PersonId, ShortText, Slug


class ConsentStatement(BaseModel):
    """The consent (samtycke) that allows the referral's personal data to cross principals."""

    model_config = PAYLOAD_CONFIG
    decided_by: Decider
    purpose: ShortText
    given_at: datetime
    consent_id: UUID | None = Field(
        default=None, description="The consent.given event this statement summarises, if any."
    )


class _Referral(Event):
    TOPIC = topics.REFERRAL
    KEY = "{referral_id}"


class _PersonalReferral(_Referral):
    CLASSIFICATION = DataClassification.PERSONAL
    LEGAL_BASIS = LegalBasis.CONSENT


class ReferralSent(_PersonalReferral):
    """Emitted by the sender's referral service when a school function sends a referral.

    Carries personal data; the recipient principal may read it because `consent` covers it.
    """

    TYPE = "se.samverkan.referral.sent.v1"

    referral_id: UUID
    sender: FunctionRef
    recipient: FunctionRef
    need: Need
    child: Child
    reason: FreeText
    consent: ConsentStatement
    sent_at: datetime
    forwarded_from: UUID | None = Field(
        default=None, description="The referral this one replaces after a referral.forwarded."
    )


class ReferralReceived(_Referral):
    """Emitted automatically by the recipient node when it has stored a referral (technical receipt)."""

    TYPE = "se.samverkan.referral.received.v1"

    referral_id: UUID
    recipient: FunctionRef
    received_at: datetime


class ReferralAccepted(_Referral):
    """Emitted by the recipient's referral service when a person at the recipient function accepts."""

    TYPE = "se.samverkan.referral.accepted.v1"

    referral_id: UUID
    recipient: FunctionRef
    accepted_by: ShortText
    accepted_at: datetime


class ReferralRejected(_PersonalReferral):
    """Emitted by the recipient's referral service when the recipient function declines."""

    TYPE = "se.samverkan.referral.rejected.v1"

    referral_id: UUID
    recipient: FunctionRef
    rejected_by: ShortText
    reason_code: Slug
    reason_text: FreeText
    rejected_at: datetime


class ReferralForwarded(_PersonalReferral):
    """Emitted by the recipient's referral service when the recipient function, instead of
    deciding, redirects the referral to the function it judges right (within the consent's scope).

    The referral ends here: the forwarding node sends `new_referral_id` (a referral.sent with
    `forwarded_from`), and the original sender marks this one superseded.
    """

    TYPE = "se.samverkan.referral.forwarded.v1"

    referral_id: UUID
    recipient: FunctionRef
    forwarded_to: FunctionRef
    new_referral_id: UUID
    forwarded_by: PersonId
    reason_text: FreeText
    forwarded_at: datetime


class SupersessionCause(StrEnum):
    FORWARDED = "forwarded"  # the recipient redirected it to another function
    CORRECTED = "corrected"  # the sender replaced it with a corrected referral


class ReferralSuperseded(_Referral):
    """Emitted by the sender's referral service when its referral is replaced by another one.

    After a referral.forwarded, or when the sender withdraws a referral and sends a corrected one.
    Consumers close this referral and follow `superseded_by`.
    """

    TYPE = "se.samverkan.referral.superseded.v1"

    referral_id: UUID
    sender: FunctionRef
    superseded_by: UUID
    cause: SupersessionCause
    superseded_at: datetime


class ReferralCancellationRequested(_PersonalReferral):
    """Emitted by the sender's referral service when the sending function asks to withdraw a
    referral it no longer needs (the child moved, the need was met elsewhere).

    The referral stays open until the recipient confirms with referral.cancelled.
    """

    TYPE = "se.samverkan.referral.cancellation-requested.v1"

    referral_id: UUID
    sender: FunctionRef
    requested_by: PersonId
    reason_code: Slug
    reason_text: FreeText | None = None
    requested_at: datetime


class CancellationCause(StrEnum):
    REQUESTED_BY_SENDER = "requested-by-sender"
    CONSENT_WITHDRAWN = "consent-withdrawn"
    CONSENT_EXPIRED = "consent-expired"


class ReferralCancelled(_Referral):
    """Emitted by the recipient's referral service when processing of the referral stops there.

    Confirms a referral.cancellation-requested, or follows a withdrawn or expired consent that
    the referral depended on (then `cancelled_by` is absent: the node did it).
    """

    TYPE = "se.samverkan.referral.cancelled.v1"

    referral_id: UUID
    recipient: FunctionRef
    cause: CancellationCause
    cancelled_by: PersonId | None = None
    cancelled_at: datetime
