"""Test data for the referral service's unit tests: parties, a child, a referral in any state."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from samverkan.contracts.parties import Child, FunctionRef, Need
from samverkan.contracts.referral import ConsentStatement
from samverkan.referral.domain.lifecycle import Status, SubStatus
from samverkan.referral.domain.referral import Direction, Referral, Staff

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
NURSE_FN = FunctionRef(principal="sjostad-kommun", function="skolskoterska")
UPH = FunctionRef(principal="vastra-regionen", function="uph-hamnen")
SOCIONOM = FunctionRef(principal="vastra-regionen", function="socionom-hamnen")
NURSE = Staff("SE2120001231-sk1", NURSE_FN)
UPH_STAFF = Staff("SE2321004562-ps1", UPH)
STRANGER = Staff("SE2321004562-x", FunctionRef(principal="vastra-regionen", function="annan"))
CHILD = Child(personnummer="20120315-1236", name="Alva Exempel")
STATEMENT = ConsentStatement(
    decided_by="child-and-guardians", purpose="stöd", given_at=NOW, consent_id=uuid4()
)


def referral(
    status: Status,
    direction: Direction = Direction.INCOMING,
    sub_status: SubStatus | None = None,
) -> Referral:
    """A referral copy in `status`, as if it had got there by the rules."""
    return Referral(
        id=uuid4(),
        direction=direction,
        sender=NURSE_FN,
        recipient=UPH,
        need=Need.MEDICAL_PSYCHOLOGICAL,
        child=CHILD,
        reason="Oro för nedstämdhet",
        consent=None if status is Status.DRAFT else STATEMENT,
        status=status,
        sub_status=sub_status,
        created_at=NOW,
        updated_at=NOW,
        contacts=[{"contact_id": str(CONTACT)}],
    )


CONTACT = uuid4()
