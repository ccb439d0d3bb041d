"""Notification events: what the notification service delivered, without any personal data."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from samverkan.contracts import topics
from samverkan.contracts.events import Event
from samverkan.contracts.values import ShortText, Slug


class _Notification(Event):
    TOPIC = topics.NOTIFICATION
    KEY = "{notification_id}"


class NotificationSent(_Notification):
    """Emitted by the recipient principal's notification service after a mail was accepted by SMTP."""

    TYPE = "se.samverkan.notification.sent.v1"

    notification_id: UUID
    about_event: UUID
    about_type: ShortText
    principal: Slug
    function: Slug
    channel: ShortText
    sent_at: datetime


class NotificationFailed(_Notification):
    """Emitted by the recipient principal's notification service when a delivery attempt failed.

    `will_retry` tells whether another attempt follows; when it is false the function was not
    told, and someone must look at the referral by other means.
    """

    TYPE = "se.samverkan.notification.failed.v1"

    notification_id: UUID
    about_event: UUID
    about_type: ShortText
    principal: Slug
    function: Slug
    channel: ShortText
    attempt: int = Field(ge=1)
    will_retry: bool
    reason: ShortText = Field(description="Why delivery failed; never holds personal data.")
    failed_at: datetime
