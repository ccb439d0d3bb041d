"""Reports of concern and anonymous consultations, without I/O."""

from __future__ import annotations

import pytest
from referral_builders import CHILD, NOW, NURSE, NURSE_FN, STRANGER, UPH, UPH_STAFF

from samverkan.contracts.concern import ConcernDecision
from samverkan.contracts.events import LegalBasis
from samverkan.contracts.parties import FunctionRef, Need
from samverkan.referral.domain.concern import ConcernReport, ConcernState
from samverkan.referral.domain.consultation import Consultation, PersonalDataInText
from samverkan.referral.domain.lifecycle import IllegalTransition, NotAllowed
from samverkan.referral.domain.referral import Staff

pytestmark = pytest.mark.unit

INTAKE = FunctionRef(principal="sjostad-kommun", function="mottagning-barn-unga")
SOCIAL = Staff("SE2120001231-soc1", INTAKE)


def _report() -> tuple[ConcernReport, ConcernReport]:
    mine, submitted = ConcernReport.submit(
        by=NURSE,
        recipient=INTAKE,
        child=CHILD,
        concern="Blåmärken",
        urgent=True,
        guardians_informed=False,
        now=NOW,
    )
    assert submitted.LEGAL_BASIS is LegalBasis.DUTY_TO_REPORT and submitted.reported_by
    theirs, receipt = ConcernReport.receive(submitted, now=NOW)
    assert mine.follow(receipt) and mine.state is ConcernState.RECEIVED
    return mine, theirs


def test_a_report_within_one_principal_reaches_social_services_and_feedback_comes_back() -> None:
    mine, theirs = _report()
    assert mine.visible_to(NURSE_FN) and theirs.visible_to(INTAKE)
    assert not mine.visible_to(INTAKE) and not theirs.visible_to(NURSE_FN)
    with pytest.raises(NotAllowed):
        theirs.give_feedback(NURSE, decision=ConcernDecision.INVESTIGATION_OPENED, now=NOW)
    feedback = theirs.give_feedback(SOCIAL, decision=ConcernDecision.INVESTIGATION_OPENED, now=NOW)
    assert mine.follow(feedback) and mine.decision is ConcernDecision.INVESTIGATION_OPENED
    assert mine.follow(feedback) is False
    with pytest.raises(IllegalTransition):
        theirs.give_feedback(SOCIAL, decision=ConcernDecision.INVESTIGATION_NOT_OPENED, now=NOW)


def test_a_report_to_oneself_is_refused() -> None:
    with pytest.raises(NotAllowed):
        ConcernReport.submit(
            by=SOCIAL,
            recipient=INTAKE,
            child=CHILD,
            concern="x",
            urgent=False,
            guardians_informed=True,
            now=NOW,
        )


@pytest.mark.parametrize(
    "text",
    [
        "Elev 20120315-1236 är ledsen",
        "Elev 120315-1236 mår dåligt",
        "nr 201203151236 här",
        "id 1203151236",
        "fel 20120315+1237",
    ],
)
def test_a_consultation_refuses_anything_shaped_like_a_personnummer(text: str) -> None:
    with pytest.raises(PersonalDataInText, match="personnummer"):
        Consultation.ask(
            by=NURSE, counterpart=UPH, need=Need.PSYCHOSOCIAL, age_band=None, question=text, now=NOW
        )


def test_a_consultation_is_answered_once_by_the_consulted_function() -> None:
    mine, requested = Consultation.ask(
        by=NURSE,
        counterpart=UPH,
        need=Need.PSYCHOSOCIAL,
        age_band="13-15",
        question="Elev i åk 8 sover dåligt",  # type: ignore[arg-type]
        now=NOW,
    )
    theirs = Consultation.receive(requested)
    with pytest.raises(NotAllowed):
        theirs.reply(STRANGER, answer="Svar", referral_suggested=False, now=NOW)
    with pytest.raises(PersonalDataInText):
        theirs.reply(UPH_STAFF, answer="Ring om 20120315-1236", referral_suggested=False, now=NOW)
    answered = theirs.reply(UPH_STAFF, answer="Boka ett samtal", referral_suggested=True, now=NOW)
    assert mine.follow(answered) and mine.answer == "Boka ett samtal" and mine.referral_suggested
    with pytest.raises(IllegalTransition):
        theirs.reply(UPH_STAFF, answer="Igen", referral_suggested=False, now=NOW)
