"""Webhook payloads, signatures and backoff."""

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from standardwebhooks import Webhook

from samverkan.contracts import CloudEvent
from samverkan.contracts.envelope import LegalBasis
from samverkan.contracts.notification import NotificationFailed
from samverkan.contracts.referral import ReferralSent
from samverkan.notification.channels import signature_headers
from samverkan.notification.delivery import backoff
from samverkan.notification.webhook_payload import deliverable, structured

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 13, 9, tzinfo=UTC)


def _referral() -> CloudEvent:
    sent = ReferralSent(
        referral_id=uuid4(),
        sender={"principal": "kommun", "function": "skolskoterska"},
        recipient={"principal": "region", "function": "uph"},
        need="medical-psychological",
        child={"personnummer": "20120315-1236", "name": "Alva Exempel"},
        reason="Oro",
        consent={"decided_by": "child", "purpose": "stöd", "given_at": NOW},
        sent_at=NOW,
    )
    return CloudEvent.wrap(
        sent, principal="kommun", service="referral", recipient="region",
        legalbasis=LegalBasis.CONSENT,
    )  # fmt: skip


def test_signature_matches_the_specifications_example() -> None:
    headers = signature_headers(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        b'{"test": 2432232314}',
        datetime.fromtimestamp(1614265330, UTC),
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def test_a_receiver_verifies_what_we_sign() -> None:
    secret = "whsec_" + "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMy"
    body = structured(_referral(), include_personal_data=False)
    headers = signature_headers(secret, "d1", body, datetime.now(UTC))
    assert Webhook(secret).verify(body, headers)["type"] == "se.samverkan.referral.sent.v1"


def test_personal_data_only_where_the_subscription_includes_it() -> None:
    event = _referral()
    thin = json.loads(structured(event, include_personal_data=False))
    assert "data" not in thin and thin["dataomitted"] == "personal"
    assert "20120315" not in json.dumps(thin) and "Alva" not in json.dumps(thin)
    assert thin["subject"] == str(event.data.referral_id) and thin["specversion"] == "1.0"
    full = json.loads(structured(event, include_personal_data=True))
    assert full["data"]["child"]["name"] == "Alva Exempel"


def test_only_events_of_the_principal_itself() -> None:
    event = _referral()
    assert deliverable(event, "region") and deliverable(event, "kommun")
    assert not deliverable(event, "annan-region")


def test_webhook_failures_are_not_sent_by_webhook() -> None:
    failed = NotificationFailed(
        notification_id=uuid4(), about_event=uuid4(), about_type="x", principal="region",
        channel="webhook", subscription_id=uuid4(), attempt=3, will_retry=False,
        reason="HTTP 500", failed_at=NOW,
    )  # fmt: skip
    event = CloudEvent.wrap(failed, principal="region", service="notification")
    assert not deliverable(event, "region")


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    assert backoff(1, 5, 3600, rand=lambda: 0.0).total_seconds() == 2.5
    assert backoff(3, 5, 3600, rand=lambda: 1.0).total_seconds() == 20
    assert backoff(30, 5, 3600, rand=lambda: 1.0).total_seconds() == 3600
