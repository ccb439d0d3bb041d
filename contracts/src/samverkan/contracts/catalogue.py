"""Every event type of the catalogue, by its CloudEvents `type`."""

from __future__ import annotations

from samverkan.contracts.deadletter import DeadLettered
from samverkan.contracts.directory import (
    FormalisedContactPublished,
    FunctionPublished,
    PrincipalPublished,
)
from samverkan.contracts.events import Event
from samverkan.contracts.notification import NotificationSent
from samverkan.contracts.referral import (
    ReferralAccepted,
    ReferralReceived,
    ReferralRejected,
    ReferralSent,
)

EVENT_CLASSES: tuple[type[Event], ...] = (
    PrincipalPublished,
    FunctionPublished,
    FormalisedContactPublished,
    ReferralSent,
    ReferralReceived,
    ReferralAccepted,
    ReferralRejected,
    NotificationSent,
    DeadLettered,
)

EVENT_TYPES: dict[str, type[Event]] = {cls.TYPE: cls for cls in EVENT_CLASSES}
