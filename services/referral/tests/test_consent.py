"""Consent: who decided, scope, validity, withdrawal and expiry, without I/O."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import uuid4

import pytest
from referral_builders import CHILD, NOW, NURSE, NURSE_FN, SOCIONOM, STRANGER, UPH

from samverkan.contracts.consent import ConsentScope, MaturityAssessment
from samverkan.contracts.parties import Child, Decider
from samverkan.referral.domain.consent import Consent, ConsentState, InvalidConsent, NotCovered
from samverkan.referral.domain.lifecycle import IllegalTransition, NotAllowed

pytestmark = pytest.mark.unit

TODAY = NOW.date()
MATURE = MaturityAssessment(child_age=15, mature_enough_to_decide=True, assessed_by="SE1-x")


def _scope(**changes: object) -> ConsentScope:
    values: dict[str, object] = {
        "recipients": [{"principal": UPH.principal, "function": UPH.function}],
        "purpose": "Bedömning",
        "data_categories": ["identity", "reason-for-referral"],
        "valid_from": TODAY,
        "valid_until": TODAY + timedelta(days=90),
    }
    return ConsentScope.model_validate(values | changes)


def _give(scope: ConsentScope | None = None, **kw: object) -> Consent:
    args: dict[str, object] = {
        "by": NURSE,
        "child": CHILD,
        "scope": scope or _scope(),
        "decided_by": Decider.CHILD_AND_GUARDIANS,
        "guardians_consenting": 2,
        "maturity": None,
        "now": NOW,
    }
    consent, event = Consent.give(**(args | kw))  # type: ignore[arg-type]
    assert event.consent_id == consent.id and event.scope == consent.scope
    return consent


def test_a_child_decides_alone_only_when_assessed_mature_enough() -> None:
    with pytest.raises(InvalidConsent, match="maturity"):
        _give(decided_by=Decider.CHILD, guardians_consenting=0)
    immature = MATURE.model_copy(update={"mature_enough_to_decide": False})
    with pytest.raises(InvalidConsent):
        _give(decided_by=Decider.CHILD, guardians_consenting=0, maturity=immature)
    assert _give(decided_by=Decider.CHILD, guardians_consenting=0, maturity=MATURE).maturity


def test_guardians_deciding_means_at_least_one_consented() -> None:
    with pytest.raises(InvalidConsent, match="guardian"):
        _give(decided_by=Decider.GUARDIANS, guardians_consenting=0)


def test_a_period_that_is_reversed_or_over_is_refused() -> None:
    with pytest.raises(InvalidConsent):
        _give(_scope(valid_until=TODAY - timedelta(days=1), valid_from=TODAY))
    with pytest.raises(InvalidConsent):
        _give(_scope(valid_from=date(2020, 1, 1), valid_until=date(2020, 6, 1)))


def test_covers_recipient_child_categories_and_period() -> None:
    consent = _give()
    statement = consent.covers(CHILD, UPH, TODAY)
    assert statement.consent_id == consent.id and statement.purpose == "Bedömning"
    other_child = Child(personnummer="20100101-0006", name="Annan")
    refusals = [
        (other_child, UPH, TODAY, "another child"),
        (CHILD, SOCIONOM, TODAY, "does not cover vastra-regionen/socionom-hamnen"),
        (CHILD, UPH, TODAY + timedelta(days=91), "valid"),
        (CHILD, UPH, TODAY - timedelta(days=1), "valid"),
    ]
    for child, recipient, day, message in refusals:
        with pytest.raises(NotCovered, match=message):
            consent.covers(child, recipient, day)
    narrow = _give(_scope(data_categories=["identity"]))
    with pytest.raises(NotCovered, match="reason-for-referral"):
        narrow.covers(CHILD, UPH, TODAY)


def test_a_whole_principal_in_scope_covers_each_of_its_functions() -> None:
    consent = _give(_scope(recipients=[{"principal": UPH.principal}]))
    assert consent.covers(CHILD, SOCIONOM, TODAY).consent_id == consent.id
    assert consent.recipient_principals() == {UPH.principal}


def test_only_the_holder_withdraws_and_then_nothing_is_covered() -> None:
    consent = _give()
    with pytest.raises(NotAllowed):
        consent.withdraw(STRANGER, withdrawn_by=Decider.GUARDIANS, now=NOW)
    event = consent.withdraw(NURSE, withdrawn_by=Decider.GUARDIANS, now=NOW)
    assert event.holder == NURSE_FN and consent.state is ConsentState.WITHDRAWN
    with pytest.raises(NotCovered, match="withdrawn"):
        consent.covers(CHILD, UPH, TODAY)
    with pytest.raises(IllegalTransition):
        consent.withdraw(NURSE, withdrawn_by=Decider.CHILD, now=NOW)


def test_expiry_only_after_the_last_valid_day() -> None:
    consent = _give()
    assert consent.scope is not None
    last_day = NOW + timedelta(days=90)
    with pytest.raises(IllegalTransition):
        consent.expire(now=last_day)
    event = consent.expire(now=last_day + timedelta(days=1))
    assert event.valid_until == consent.scope.valid_until and consent.state is ConsentState.EXPIRED


def test_an_inline_consent_covers_exactly_its_referral() -> None:
    consent = Consent.for_referral(
        by=NURSE,
        child=CHILD,
        recipient=UPH,
        purpose="Stöd",
        decided_by=Decider.CHILD,
        given_at=NOW,
        now=NOW,
    )
    assert consent.covers(CHILD, UPH, TODAY).consent_id == consent.id
    with pytest.raises(NotCovered):
        consent.covers(CHILD, SOCIONOM, TODAY)
    with pytest.raises(InvalidConsent):
        Consent.for_referral(
            by=NURSE,
            child=CHILD,
            recipient=UPH,
            purpose="Stöd",
            decided_by=Decider.CHILD,
            given_at=NOW + timedelta(hours=1),
            now=NOW,
        )


def test_a_copy_learns_of_the_end_once_even_before_it_learns_the_scope() -> None:
    copy = Consent.tombstone(uuid4(), NURSE_FN)
    assert copy.ended_elsewhere(ConsentState.WITHDRAWN, NOW) is True
    assert copy.ended_elsewhere(ConsentState.EXPIRED, NOW) is False
    assert copy.state is ConsentState.WITHDRAWN and not copy.visible_to(NURSE_FN)
