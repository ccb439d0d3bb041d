"""Consultation events (konsultation): anonymous questions between functions, keyed by id.

No personal data: free text is `AnonymousText`, which refuses anything shaped like a
personnummer, and no child is named. So no consent is needed, and the topic may be shared
with statistics integrators.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from samverkan.contracts import topics
from samverkan.contracts.events import Event
from samverkan.contracts.parties import FunctionRef, Need
from samverkan.contracts.values import AnonymousText


class AgeBand(StrEnum):
    """Broad enough not to identify a child, narrow enough to follow up by age."""

    UNDER_6 = "0-5"
    AGE_6_9 = "6-9"
    AGE_10_12 = "10-12"
    AGE_13_15 = "13-15"
    AGE_16_20 = "16-20"


class _Consultation(Event):
    TOPIC = topics.CONSULTATION
    KEY = "{consultation_id}"


class ConsultationRequested(_Consultation):
    """Emitted by the requester's referral service when a teacher or school function asks a
    counterpart function for advice about a situation, without a referral and without naming
    the child ("a quick check-in without having to qualify for it")."""

    TYPE = "se.samverkan.consultation.requested.v1"

    consultation_id: UUID
    requester: FunctionRef
    counterpart: FunctionRef
    need: Need
    age_band: AgeBand | None = None
    question: AnonymousText
    requested_at: datetime


class ConsultationAnswered(_Consultation):
    """Emitted by the counterpart's referral service when the counterpart function answers."""

    TYPE = "se.samverkan.consultation.answered.v1"

    consultation_id: UUID
    counterpart: FunctionRef
    requester: FunctionRef
    answer: AnonymousText
    referral_suggested: bool = Field(
        description="The counterpart advises a referral (which then needs consent)."
    )
    answered_at: datetime
