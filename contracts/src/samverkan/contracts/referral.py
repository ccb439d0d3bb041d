"""Referral events (remiss / samverkansförfrågan), keyed by referral id."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from samverkan.contracts import topics
from samverkan.contracts.events import Event
from samverkan.contracts.values import FreeText, Personnummer, ShortText, Slug


class Need(StrEnum):
    """What kind of help the child needs; formalised contacts are defined per need."""

    MEDICAL_PSYCHOLOGICAL = "medical-psychological"
    PSYCHOSOCIAL = "psychosocial"


class Decider(StrEnum):
    CHILD = "child"
    GUARDIANS = "guardians"
    CHILD_AND_GUARDIANS = "child-and-guardians"


class FunctionRef(BaseModel):
    """A function (role / functional mailbox) at a principal: the sender or recipient of a referral."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    principal: Slug
    function: Slug


class Child(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    personnummer: Personnummer
    name: ShortText


class ConsentStatement(BaseModel):
    """The consent (samtycke) that allows the referral's personal data to cross principals."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    decided_by: Decider
    purpose: ShortText
    given_at: datetime


class ReferralSent(Event):
    """Emitted by the sender's referral service when a school function sends a referral.

    Carries personal data; the recipient principal may read it because `consent` covers it.
    """

    TYPE = "se.samverkan.referral.sent.v1"
    TOPIC = topics.REFERRAL

    referral_id: UUID
    sender: FunctionRef
    recipient: FunctionRef
    need: Need
    child: Child
    reason: FreeText
    consent: ConsentStatement
    sent_at: datetime

    def key(self) -> str:
        return str(self.referral_id)


class ReferralReceived(Event):
    """Emitted automatically by the recipient node when it has stored a referral (technical receipt)."""

    TYPE = "se.samverkan.referral.received.v1"
    TOPIC = topics.REFERRAL

    referral_id: UUID
    recipient: FunctionRef
    received_at: datetime

    def key(self) -> str:
        return str(self.referral_id)


class ReferralAccepted(Event):
    """Emitted by the recipient's referral service when a person at the recipient function accepts."""

    TYPE = "se.samverkan.referral.accepted.v1"
    TOPIC = topics.REFERRAL

    referral_id: UUID
    recipient: FunctionRef
    accepted_by: ShortText
    accepted_at: datetime

    def key(self) -> str:
        return str(self.referral_id)


class ReferralRejected(Event):
    """Emitted by the recipient's referral service when the recipient function declines."""

    TYPE = "se.samverkan.referral.rejected.v1"
    TOPIC = topics.REFERRAL

    referral_id: UUID
    recipient: FunctionRef
    rejected_by: ShortText
    reason_code: Slug
    reason_text: FreeText
    rejected_at: datetime

    def key(self) -> str:
        return str(self.referral_id)
