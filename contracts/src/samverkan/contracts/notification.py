"""Notification events: what the notification service delivered, failed or found overdue.

None of them carries personal data: ids, function references, types and times only.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from samverkan.contracts import topics
from samverkan.contracts.events import Event
from samverkan.contracts.parties import FunctionRef
from samverkan.contracts.values import ShortText, Slug


class _Notification(Event):
    TOPIC = topics.NOTIFICATION
    KEY = "{notification_id}"


class NotificationSent(_Notification):
    """Emitted by a principal's notification service after a mail was accepted by SMTP, or a
    webhook call was answered with a 2xx status by the integrator's receiver."""

    TYPE = "se.samverkan.notification.sent.v1"

    notification_id: UUID
    about_event: UUID
    about_type: ShortText
    principal: Slug
    function: Slug | None = Field(
        default=None,
        description="The function whose mailbox was told; absent for webhook deliveries.",
    )
    channel: ShortText = Field(description="email or webhook.")
    subscription_id: UUID | None = Field(
        default=None, description="The webhook subscription, for channel webhook."
    )
    sent_at: datetime


class NotificationFailed(_Notification):
    """Emitted by a principal's notification service when a delivery failed for good: every
    attempt failed, or the service stopped while handing it over so that it may or may not have
    arrived (`reason` says which; such a delivery is never repeated).

    `will_retry` tells whether another attempt follows; when it is false the function (or the
    integrator) was not told, and someone must look at the referral by other means.
    """

    TYPE = "se.samverkan.notification.failed.v1"

    notification_id: UUID
    about_event: UUID
    about_type: ShortText
    principal: Slug
    function: Slug | None = Field(
        default=None,
        description="The function whose mailbox was to be told; absent for webhook deliveries.",
    )
    channel: ShortText = Field(description="email or webhook.")
    subscription_id: UUID | None = Field(
        default=None, description="The webhook subscription, for channel webhook."
    )
    attempt: int = Field(ge=1)
    will_retry: bool
    reason: ShortText = Field(description="Why delivery failed; never holds personal data.")
    failed_at: datetime


class OverdueStage(StrEnum):
    """Which step of a referral did not happen within its deadline."""

    NOT_RECEIVED = "not-received"  # no referral.received from the recipient node
    NOT_DECIDED = "not-decided"  # neither accepted, rejected, forwarded nor cancelled


class ReferralOverdue(_Notification):
    """Emitted by the notification service of the principal that watches a referral's deadline
    when the deadline passed: the sender's node for `not-received`, the recipient's node for
    `not-decided`. Addressed to the other party's principal.

    Each node that receives it (the emitting one included) mails its own side: a reminder to the
    recipient function, an escalation to the sender function. Deadlines count working days
    (Monday to Friday, Swedish public holidays excluded) in Swedish time.
    """

    TYPE = "se.samverkan.notification.referral-overdue.v1"

    notification_id: UUID
    referral_id: UUID
    stage: OverdueStage
    sender: FunctionRef
    recipient: FunctionRef
    working_days: int = Field(ge=0, description="The deadline, in working days after sending.")
    due_at: datetime
    detected_at: datetime
