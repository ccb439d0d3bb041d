"""Consent events (samtycke): given, withdrawn, expired; keyed by consent id.

A consent is held by the function that recorded it (usually at the school); it names who may
receive what, for which purpose and until when. Withdrawal reaches every recipient in scope.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, Field

from samverkan.contracts import topics
from samverkan.contracts.events import PAYLOAD_CONFIG, DataClassification, Event, LegalBasis
from samverkan.contracts.parties import Child, Decider, FunctionRef
from samverkan.contracts.values import FreeText, PersonId, ShortText, Slug


class DataCategory(StrEnum):
    """Which information the consent lets cross to the recipients."""

    IDENTITY = "identity"  # personnummer and name
    CONTACT_DETAILS = "contact-details"
    REASON_FOR_REFERRAL = "reason-for-referral"
    SCHOOL_SITUATION = "school-situation"  # attendance, support measures
    HEALTH = "health"  # from the school nurse's or the health centre's records
    PSYCHOSOCIAL = "psychosocial"  # from the school counsellor's records
    FAMILY_SITUATION = "family-situation"


class ConsentRecipient(BaseModel):
    """A recipient in scope: one function at a principal, or the whole principal if no function."""

    model_config = PAYLOAD_CONFIG
    principal: Slug
    function: Slug | None = None


class ConsentScope(BaseModel):
    """Who may receive which information, for what, and for how long."""

    model_config = PAYLOAD_CONFIG
    recipients: list[ConsentRecipient] = Field(min_length=1)
    purpose: ShortText
    data_categories: list[DataCategory] = Field(min_length=1)
    valid_from: date
    valid_until: date


class MaturityAssessment(BaseModel):
    """The staff's note on whether the child is mature enough to decide alone; the child's own
    view weighs more with age and maturity."""

    model_config = PAYLOAD_CONFIG
    child_age: int = Field(ge=0, le=20)
    mature_enough_to_decide: bool
    assessed_by: PersonId
    note: FreeText | None = None


class _Consent(Event):
    TOPIC = topics.CONSENT
    KEY = "{consent_id}"


class ConsentGiven(_Consent):
    """Emitted by the holder's referral service when staff record a consent given by the child,
    the guardians or both, after telling them what will be shared with whom.

    Addressed to every principal in scope; a referral that relies on it names it in
    `consent.consent_id`.
    """

    TYPE = "se.samverkan.consent.given.v1"
    CLASSIFICATION = DataClassification.PERSONAL
    LEGAL_BASIS = LegalBasis.CONSENT

    consent_id: UUID
    holder: FunctionRef
    child: Child
    scope: ConsentScope
    decided_by: Decider
    guardians_consenting: int = Field(
        ge=0, le=2, description="How many guardians (vårdnadshavare) consented; 0 if none."
    )
    maturity: MaturityAssessment | None = None
    recorded_by: PersonId
    given_at: datetime


class ConsentWithdrawn(_Consent):
    """Emitted by the holder's referral service when the child or a guardian withdraws consent,
    which they may do at any time.

    Every recipient in scope stops processing data shared under it and cancels the referrals
    that depend on it.
    """

    TYPE = "se.samverkan.consent.withdrawn.v1"

    consent_id: UUID
    holder: FunctionRef
    withdrawn_by: Decider
    recorded_by: PersonId
    withdrawn_at: datetime


class ConsentExpired(_Consent):
    """Emitted by the holder's referral service when a consent's `valid_until` has passed without
    withdrawal. For new processing, recipients treat it like a withdrawal."""

    TYPE = "se.samverkan.consent.expired.v1"

    consent_id: UUID
    holder: FunctionRef
    valid_until: date
    expired_at: datetime
