"""A node reads events from principals that already run a newer minor version of the contracts."""

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from samverkan.contracts import CloudEvent, InvalidEvent
from samverkan.contracts.referral import ReferralAccepted

pytestmark = pytest.mark.unit


def _accepted() -> CloudEvent:
    data = ReferralAccepted(
        referral_id=uuid4(),
        recipient={"principal": "vastra-regionen", "function": "uph-hamnen"},
        accepted_by="SE2321004562-ps0042",
        accepted_at=datetime.now(UTC),
    )
    return CloudEvent.wrap(data, principal="vastra-regionen", service="referral")


def test_fields_added_by_a_newer_minor_version_are_ignored() -> None:
    event = _accepted()
    newer = json.loads(event.value())
    newer["priority"] = "urgent"  # fields this node's contracts do not know yet
    newer["recipient"]["team_channel"] = "video-3"
    parsed = CloudEvent.from_kafka(json.dumps(newer).encode(), event.headers())
    assert parsed.data == event.data


def test_a_missing_required_field_is_still_an_error() -> None:
    event = _accepted()
    older = json.loads(event.value())
    del older["accepted_by"]
    with pytest.raises(InvalidEvent, match="accepted_by"):
        CloudEvent.from_kafka(json.dumps(older).encode(), event.headers())


def test_published_schemas_still_state_exactly_what_this_version_emits() -> None:
    schema = ReferralAccepted.model_json_schema()
    assert schema["additionalProperties"] is False
