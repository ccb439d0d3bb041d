"""The actor an entry names: the payload's first `…_by` field that holds a person id."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from samverkan.audit.service import actor_of
from samverkan.contracts.consent import ConsentWithdrawn
from samverkan.contracts.parties import Decider, FunctionRef
from samverkan.contracts.referral import ReferralSent, ReferralSuperseded, SupersessionCause

pytestmark = pytest.mark.unit

SCHOOL = FunctionRef(principal="sjostad-kommun", function="skolskoterska")


def test_the_person_who_recorded_it_not_who_decided() -> None:
    withdrawn = ConsentWithdrawn(
        consent_id=uuid4(),
        holder=SCHOOL,
        withdrawn_by=Decider.GUARDIANS,  # who decided: no person id
        recorded_by="kurator-7",
        withdrawn_at=datetime.now(UTC),
    )
    assert actor_of(withdrawn) == "kurator-7"


def test_none_when_the_payload_names_no_person() -> None:
    sent = ReferralSent(
        referral_id=uuid4(),
        sender=SCHOOL,
        recipient={"principal": "vastra-regionen", "function": "uph"},
        need="medical-psychological",
        child={"personnummer": "20120315-1236", "name": "Alva Exempel"},
        reason="Oro",
        consent={"decided_by": "child", "purpose": "stöd", "given_at": datetime.now(UTC)},
        sent_at=datetime.now(UTC),
    )
    assert actor_of(sent) is None


def test_a_by_field_that_names_no_person_is_passed_over() -> None:
    superseded = ReferralSuperseded(
        referral_id=uuid4(),
        sender=SCHOOL,
        superseded_by=uuid4(),  # the referral that replaces it
        cause=SupersessionCause.FORWARDED,
        superseded_at=datetime.now(UTC),
    )
    assert actor_of(superseded) is None
