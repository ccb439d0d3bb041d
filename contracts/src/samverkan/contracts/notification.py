"""Notification events: what the notification service delivered, without any personal data."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from samverkan.contracts import topics
from samverkan.contracts.events import Event
from samverkan.contracts.values import ShortText, Slug


class NotificationSent(Event):
    """Emitted by the recipient principal's notification service after a mail was accepted by SMTP."""

    TYPE = "se.samverkan.notification.sent.v1"
    TOPIC = topics.NOTIFICATION

    notification_id: UUID
    about_event: UUID
    about_type: ShortText
    principal: Slug
    function: Slug
    channel: ShortText
    sent_at: datetime

    def key(self) -> str:
        return str(self.notification_id)
