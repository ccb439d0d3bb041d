"""Every event type of the catalogue, by its CloudEvents `type`."""

from __future__ import annotations

from samverkan.contracts.audit import (
    AccessLogged,
    CheckpointInconsistent,
    CheckpointSigned,
    CheckpointWitnessed,
)
from samverkan.contracts.concern import (
    ConcernFeedbackGiven,
    ConcernReportReceived,
    ConcernReportSubmitted,
)
from samverkan.contracts.consent import ConsentExpired, ConsentGiven, ConsentWithdrawn
from samverkan.contracts.consultation import ConsultationAnswered, ConsultationRequested
from samverkan.contracts.deadletter import DeadLettered
from samverkan.contracts.directory import (
    FormalisedContactPublished,
    FormalisedContactRetired,
    FunctionPublished,
    FunctionRetired,
    PrincipalPublished,
    PrincipalRetired,
    PublicKeyPublished,
    PublicKeyRevoked,
    UnitPublished,
    UnitRetired,
)
from samverkan.contracts.events import Event
from samverkan.contracts.followup import (
    ReferralCompleted,
    ReferralContactScheduled,
    ReferralFailed,
    ReferralNoShow,
    ReferralPutOnHold,
    ReferralResumed,
)
from samverkan.contracts.notification import (
    NotificationFailed,
    NotificationSent,
    ReferralOverdue,
)
from samverkan.contracts.referral import (
    ReferralAccepted,
    ReferralCancellationRequested,
    ReferralCancelled,
    ReferralForwarded,
    ReferralReceived,
    ReferralRejected,
    ReferralSent,
    ReferralSuperseded,
)

EVENT_CLASSES: tuple[type[Event], ...] = (
    PrincipalPublished,
    PrincipalRetired,
    UnitPublished,
    UnitRetired,
    FunctionPublished,
    FunctionRetired,
    FormalisedContactPublished,
    FormalisedContactRetired,
    PublicKeyPublished,
    PublicKeyRevoked,
    ReferralSent,
    ReferralReceived,
    ReferralAccepted,
    ReferralRejected,
    ReferralForwarded,
    ReferralSuperseded,
    ReferralCancellationRequested,
    ReferralCancelled,
    ReferralContactScheduled,
    ReferralNoShow,
    ReferralPutOnHold,
    ReferralResumed,
    ReferralCompleted,
    ReferralFailed,
    ConsentGiven,
    ConsentWithdrawn,
    ConsentExpired,
    ConcernReportSubmitted,
    ConcernReportReceived,
    ConcernFeedbackGiven,
    ConsultationRequested,
    ConsultationAnswered,
    NotificationSent,
    NotificationFailed,
    ReferralOverdue,
    CheckpointSigned,
    CheckpointWitnessed,
    CheckpointInconsistent,
    AccessLogged,
    DeadLettered,
)

EVENT_TYPES: dict[str, type[Event]] = {cls.TYPE: cls for cls in EVENT_CLASSES}
