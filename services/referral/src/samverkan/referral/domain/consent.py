"""Consent (samtycke): scoped, decided by the child and/or guardians, withdrawable; pure Python.

The function that records a consent holds it. Other nodes keep a copy of what they were told
(given, withdrawn, expired), or only a tombstone when the withdrawal arrives first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

from samverkan.contracts.consent import (
    ConsentExpired,
    ConsentGiven,
    ConsentRecipient,
    ConsentScope,
    ConsentWithdrawn,
    DataCategory,
    MaturityAssessment,
)
from samverkan.contracts.parties import Child, Decider, FunctionRef
from samverkan.contracts.referral import ConsentStatement
from samverkan.referral.domain.lifecycle import IllegalTransition, NotAllowed
from samverkan.referral.domain.referral import Staff

# What a referral carries across: who the child is and why they are referred.
REFERRAL_CATEGORIES = frozenset({DataCategory.IDENTITY, DataCategory.REASON_FOR_REFERRAL})
# A consent given inline with a referral covers exactly that referral, for this long.
INLINE_VALIDITY = timedelta(days=180)


class ConsentState(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


class InvalidConsent(ValueError):
    """The consent as recorded would not be valid (who decided, maturity, period)."""


class NotCovered(Exception):
    """No valid consent covers what is asked; the message says which part is missing."""


@dataclass
class Consent:
    id: UUID
    holder: FunctionRef
    held_here: bool
    state: ConsentState
    child: Child | None = None
    scope: ConsentScope | None = None
    decided_by: Decider | None = None
    guardians_consenting: int = 0
    maturity: MaturityAssessment | None = None
    recorded_by: str | None = None
    given_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: Decider | None = None

    @classmethod
    def give(
        cls,
        *,
        by: Staff,
        child: Child,
        scope: ConsentScope,
        decided_by: Decider,
        guardians_consenting: int,
        maturity: MaturityAssessment | None,
        now: datetime,
    ) -> tuple[Consent, ConsentGiven]:
        _check_decision(decided_by, guardians_consenting, maturity)
        if scope.valid_until < scope.valid_from:
            raise InvalidConsent("valid_until is before valid_from")
        if scope.valid_until < now.date():
            raise InvalidConsent("the validity period has already ended")
        consent = cls(
            id=uuid4(),
            holder=by.function,
            held_here=True,
            state=ConsentState.ACTIVE,
            child=child,
            scope=scope,
            decided_by=decided_by,
            guardians_consenting=guardians_consenting,
            maturity=maturity,
            recorded_by=by.person,
            given_at=now,
        )
        return consent, consent.given_event()

    @classmethod
    def for_referral(
        cls,
        *,
        by: Staff,
        child: Child,
        recipient: FunctionRef,
        purpose: str,
        decided_by: Decider,
        given_at: datetime,
        now: datetime,
    ) -> Consent:
        """A consent stated with a referral: it covers that recipient and that purpose only."""
        if given_at > now:
            raise InvalidConsent("a consent cannot be given in the future")
        valid_from = given_at.date()
        scope = ConsentScope(
            recipients=[
                ConsentRecipient(principal=recipient.principal, function=recipient.function)
            ],
            purpose=purpose,
            data_categories=sorted(REFERRAL_CATEGORIES),
            valid_from=valid_from,
            valid_until=valid_from + INLINE_VALIDITY,
        )
        if scope.valid_until < now.date():
            raise InvalidConsent("a consent given that long ago has expired")
        return cls(
            id=uuid4(),
            holder=by.function,
            held_here=True,
            state=ConsentState.ACTIVE,
            child=child,
            scope=scope,
            decided_by=decided_by,
            guardians_consenting=0 if decided_by is Decider.CHILD else 1,
            recorded_by=by.person,
            given_at=given_at,
        )

    @classmethod
    def received(cls, event: ConsentGiven) -> Consent:
        return cls(
            id=event.consent_id,
            holder=event.holder,
            held_here=False,
            state=ConsentState.ACTIVE,
            child=event.child,
            scope=event.scope,
            decided_by=event.decided_by,
            guardians_consenting=event.guardians_consenting,
            maturity=event.maturity,
            recorded_by=event.recorded_by,
            given_at=event.given_at,
        )

    @classmethod
    def tombstone(cls, consent_id: UUID, holder: FunctionRef) -> Consent:
        """A consent this node hears ended before it heard it was given."""
        return cls(id=consent_id, holder=holder, held_here=False, state=ConsentState.ACTIVE)

    def given_event(self) -> ConsentGiven:
        assert self.child and self.scope and self.decided_by and self.recorded_by and self.given_at
        return ConsentGiven(
            consent_id=self.id,
            holder=self.holder,
            child=self.child,
            scope=self.scope,
            decided_by=self.decided_by,
            guardians_consenting=self.guardians_consenting,
            maturity=self.maturity,
            recorded_by=self.recorded_by,
            given_at=self.given_at,
        )

    def withdraw(self, by: Staff, *, withdrawn_by: Decider, now: datetime) -> ConsentWithdrawn:
        if not self.held_here or by.function != self.holder:
            raise NotAllowed("only the function holding the consent records its withdrawal")
        self._end(ConsentState.WITHDRAWN, now)
        self.ended_by = withdrawn_by
        return ConsentWithdrawn(
            consent_id=self.id,
            holder=self.holder,
            withdrawn_by=withdrawn_by,
            recorded_by=by.person,
            withdrawn_at=now,
        )

    def expire(self, *, now: datetime) -> ConsentExpired:
        assert self.scope is not None
        if now.date() <= self.scope.valid_until:
            raise IllegalTransition("the consent is still valid")
        self._end(ConsentState.EXPIRED, now)
        return ConsentExpired(
            consent_id=self.id,
            holder=self.holder,
            valid_until=self.scope.valid_until,
            expired_at=now,
        )

    def ended_elsewhere(self, state: ConsentState, at: datetime) -> bool:
        """Record that the holder ended it; False if this copy already knew."""
        if self.state is not ConsentState.ACTIVE:
            return False
        self.state, self.ended_at = state, at
        return True

    def covers(self, child: Child, recipient: FunctionRef, today: date) -> ConsentStatement:
        """The statement a referral carries, if this consent covers it; NotCovered if not."""
        if self.state is not ConsentState.ACTIVE:
            raise NotCovered(f"the consent has been {self.state.value}")
        if self.scope is None or self.child is None or self.decided_by is None:
            raise NotCovered("the consent's scope is not known here yet")
        if self.child.personnummer != child.personnummer:
            raise NotCovered("the consent is about another child")
        if not any(
            r.principal == recipient.principal and r.function in (None, recipient.function)
            for r in self.scope.recipients
        ):
            raise NotCovered(
                f"the consent does not cover {recipient.principal}/{recipient.function}"
            )
        missing = REFERRAL_CATEGORIES - set(self.scope.data_categories)
        if missing:
            names = ", ".join(sorted(m.value for m in missing))
            raise NotCovered(f"the consent does not cover the data categories {names}")
        if not self.scope.valid_from <= today <= self.scope.valid_until:
            raise NotCovered(
                f"the consent is valid {self.scope.valid_from} to {self.scope.valid_until},"
                f" not on {today}"
            )
        assert self.given_at is not None
        return ConsentStatement(
            decided_by=self.decided_by,
            purpose=self.scope.purpose,
            given_at=self.given_at,
            consent_id=self.id,
        )

    def recipient_principals(self) -> set[str]:
        return {r.principal for r in self.scope.recipients} if self.scope else set()

    def visible_to(self, function: FunctionRef) -> bool:
        return self.held_here and function == self.holder

    def _end(self, state: ConsentState, now: datetime) -> None:
        if self.state is not ConsentState.ACTIVE:
            raise IllegalTransition(f"the consent is already {self.state.value}")
        self.state, self.ended_at = state, now


def _check_decision(
    decided_by: Decider, guardians: int, maturity: MaturityAssessment | None
) -> None:
    if decided_by is Decider.CHILD and not (maturity and maturity.mature_enough_to_decide):
        raise InvalidConsent(
            "a child decides alone only with a maturity assessment finding the child mature enough"
        )
    if decided_by is not Decider.CHILD and guardians < 1:
        raise InvalidConsent("a decision by guardians needs at least one consenting guardian")
