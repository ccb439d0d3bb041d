"""Consultation (konsultation): an anonymous question and its answer; pure Python.

It carries no personal data, so no consent: text shaped like a personnummer is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID, uuid4

from samverkan.contracts.consultation import AgeBand, ConsultationAnswered, ConsultationRequested
from samverkan.contracts.parties import FunctionRef, Need
from samverkan.contracts.values import PERSONNUMMER_SHAPED
from samverkan.referral.domain.lifecycle import IllegalTransition, NotAllowed
from samverkan.referral.domain.referral import Staff

_PERSONNUMMER = re.compile(PERSONNUMMER_SHAPED)


class PersonalDataInText(ValueError):
    """Anonymous text that contains something shaped like a personnummer."""


class Side(StrEnum):
    REQUESTER = "requester"
    COUNTERPART = "counterpart"


def anonymous(text: str, what: str) -> str:
    if _PERSONNUMMER.search(text):
        raise PersonalDataInText(
            f"the {what} contains something shaped like a personnummer; a consultation is"
            " anonymous: describe the situation without identifying the child"
        )
    return text


@dataclass
class Consultation:
    id: UUID
    side: Side
    requester: FunctionRef
    counterpart: FunctionRef
    need: Need
    age_band: AgeBand | None
    question: str
    requested_at: datetime
    answer: str | None = None
    referral_suggested: bool | None = None
    answered_at: datetime | None = None

    @classmethod
    def ask(
        cls,
        *,
        by: Staff,
        counterpart: FunctionRef,
        need: Need,
        age_band: AgeBand | None,
        question: str,
        now: datetime,
    ) -> tuple[Consultation, ConsultationRequested]:
        anonymous(question, "question")
        if counterpart == by.function:
            raise NotAllowed("a function cannot consult itself")
        consultation = cls(
            id=uuid4(),
            side=Side.REQUESTER,
            requester=by.function,
            counterpart=counterpart,
            need=need,
            age_band=age_band,
            question=question,
            requested_at=now,
        )
        return consultation, ConsultationRequested(
            consultation_id=consultation.id,
            requester=by.function,
            counterpart=counterpart,
            need=need,
            age_band=age_band,
            question=question,
            requested_at=now,
        )

    @classmethod
    def receive(cls, event: ConsultationRequested) -> Consultation:
        return cls(
            id=event.consultation_id,
            side=Side.COUNTERPART,
            requester=event.requester,
            counterpart=event.counterpart,
            need=event.need,
            age_band=event.age_band,
            question=event.question,
            requested_at=event.requested_at,
        )

    def reply(
        self, by: Staff, *, answer: str, referral_suggested: bool, now: datetime
    ) -> ConsultationAnswered:
        anonymous(answer, "answer")
        if self.side is not Side.COUNTERPART or by.function != self.counterpart:
            raise NotAllowed("only the consulted function answers")
        if self.answer is not None:
            raise IllegalTransition("the consultation is already answered")
        self.answer, self.referral_suggested, self.answered_at = answer, referral_suggested, now
        return ConsultationAnswered(
            consultation_id=self.id,
            counterpart=self.counterpart,
            requester=self.requester,
            answer=answer,
            referral_suggested=referral_suggested,
            answered_at=now,
        )

    def follow(self, event: ConsultationAnswered) -> bool:
        if self.side is not Side.REQUESTER or event.counterpart != self.counterpart:
            raise NotAllowed("only the requester's copy follows the answer")
        if self.answer is not None:
            return False
        self.answer, self.referral_suggested = event.answer, event.referral_suggested
        self.answered_at = event.answered_at
        return True

    def visible_to(self, function: FunctionRef) -> bool:
        return function == (self.requester if self.side is Side.REQUESTER else self.counterpart)
