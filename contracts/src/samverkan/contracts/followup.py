"""Referral events after acceptance: contacts and check-in meetings, pauses, completion.

Same topic and key as `referral`: every event of one referral stays in order on one partition.
All are emitted by the recipient's referral service and addressed to the sender's principal.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from samverkan.contracts import topics
from samverkan.contracts.events import DataClassification, Event, LegalBasis
from samverkan.contracts.parties import FunctionRef
from samverkan.contracts.values import FreeText, HttpsUrl, PersonId, ShortText, Slug


class _FollowUp(Event):
    TOPIC = topics.REFERRAL
    KEY = "{referral_id}"


class ContactKind(StrEnum):
    CHECK_IN_MEETING = "check-in-meeting"  # avstämningsmöte with the sending function
    FIRST_VISIT = "first-visit"
    VISIT = "visit"


class ContactMode(StrEnum):
    IN_PERSON = "in-person"
    VIDEO = "video"
    PHONE = "phone"


class Participant(StrEnum):
    CHILD = "child"
    GUARDIANS = "guardians"
    SENDING_FUNCTION = "sending-function"
    RECIPIENT_FUNCTION = "recipient-function"


class ReferralContactScheduled(_FollowUp):
    """Emitted when the recipient function books a contact for the referral: the first visit, a
    visit, or a check-in meeting (avstämningsmöte), often by video at the child's school.

    A referral can have several contacts; `contact_id` tells them apart. Rescheduling is a new
    event with the same `contact_id`.
    """

    TYPE = "se.samverkan.referral.contact-scheduled.v1"
    CLASSIFICATION = DataClassification.PERSONAL  # time and link of a meeting with a child
    LEGAL_BASIS = LegalBasis.CONSENT

    referral_id: UUID
    recipient: FunctionRef
    contact_id: UUID
    kind: ContactKind
    mode: ContactMode
    starts_at: datetime
    duration_minutes: int = Field(ge=5, le=480)
    participants: list[Participant] = Field(min_length=1)
    location: ShortText | None = None
    video_link: HttpsUrl | None = Field(default=None, description="Set when `mode` is video.")
    scheduled_by: PersonId
    scheduled_at: datetime


class ReferralNoShow(_FollowUp):
    """Emitted when the child (and guardians) did not come to a scheduled contact, so that the
    sending function can follow up at school."""

    TYPE = "se.samverkan.referral.no-show.v1"

    referral_id: UUID
    recipient: FunctionRef
    contact_id: UUID
    recorded_by: PersonId
    recorded_at: datetime


class ReferralPutOnHold(_FollowUp):
    """Emitted when the recipient function pauses work on an accepted referral (waiting for a
    guardian, the child is away); reminders stop until referral.resumed."""

    TYPE = "se.samverkan.referral.put-on-hold.v1"
    CLASSIFICATION = DataClassification.PERSONAL  # the text may describe the child's situation
    LEGAL_BASIS = LegalBasis.CONSENT

    referral_id: UUID
    recipient: FunctionRef
    reason_code: Slug
    reason_text: FreeText | None = None
    until: date | None = Field(default=None, description="When work is expected to resume.")
    put_on_hold_by: PersonId
    put_on_hold_at: datetime


class ReferralResumed(_FollowUp):
    """Emitted when the recipient function takes up a referral that was on hold."""

    TYPE = "se.samverkan.referral.resumed.v1"

    referral_id: UUID
    recipient: FunctionRef
    resumed_by: PersonId
    resumed_at: datetime


class ReferralOutcome(StrEnum):
    """What came of the referral: what the sending function needs to know, no clinical detail."""

    HELP_GIVEN = "help-given"  # the first line gave the help; nothing more is needed
    SIP_INITIATED = "sip-initiated"  # samordnad individuell plan with municipality and region
    REFERRED_TO_SPECIALISED_CARE = "referred-to-specialised-care"  # e.g. BUP
    NO_FURTHER_ACTION = "no-further-action"
    DECLINED_BY_CHILD_OR_GUARDIANS = "declined-by-child-or-guardians"


class ReferralCompleted(_FollowUp):
    """Emitted when the recipient function closes an accepted referral after working it."""

    TYPE = "se.samverkan.referral.completed.v1"
    CLASSIFICATION = DataClassification.PERSONAL  # the outcome text may describe the child
    LEGAL_BASIS = LegalBasis.CONSENT

    referral_id: UUID
    recipient: FunctionRef
    outcome: ReferralOutcome
    outcome_text: FreeText | None = None
    completed_by: PersonId
    completed_at: datetime


class ReferralFailed(_FollowUp):
    """Emitted when the recipient function closes a referral it worked on but could not carry
    through (the child could not be reached, the help could not be given at this level), so that
    the sending function knows to find another way."""

    TYPE = "se.samverkan.referral.failed.v1"
    CLASSIFICATION = DataClassification.PERSONAL  # the text may describe the child
    LEGAL_BASIS = LegalBasis.CONSENT

    referral_id: UUID
    recipient: FunctionRef
    reason_code: Slug
    reason_text: FreeText | None = None
    failed_by: PersonId
    failed_at: datetime
