"""Report of concern (orosanmälan) events: school staff to social services, keyed by report id.

The legal basis is the duty to report (SoL 14 kap. 1 §), not consent: no consent is asked for.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from samverkan.contracts import topics
from samverkan.contracts.events import DataClassification, Event, LegalBasis
from samverkan.contracts.parties import Child, FunctionRef
from samverkan.contracts.values import FreeText, PersonId


class _Concern(Event):
    TOPIC = topics.CONCERN
    KEY = "{report_id}"
    LEGAL_BASIS = LegalBasis.DUTY_TO_REPORT


class ConcernReportSubmitted(_Concern):
    """Emitted by the reporter's referral service when a member of school staff submits a report
    of concern about a child to the intake unit (mottagning) of social services.

    Professionals report in their own name: `reported_by` is always set.
    """

    TYPE = "se.samverkan.concern.submitted.v1"
    CLASSIFICATION = DataClassification.PERSONAL

    report_id: UUID
    reporter: FunctionRef
    recipient: FunctionRef
    child: Child
    concern: FreeText
    urgent: bool
    guardians_informed: bool
    reported_by: PersonId
    submitted_at: datetime


class ConcernReportReceived(_Concern):
    """Emitted automatically by the social-services node when it has stored the report
    (technical receipt)."""

    TYPE = "se.samverkan.concern.received.v1"

    report_id: UUID
    recipient: FunctionRef
    received_at: datetime


class ConcernDecision(StrEnum):
    """What social services tell the reporter (återkoppling), and nothing more."""

    INVESTIGATION_OPENED = "investigation-opened"
    INVESTIGATION_NOT_OPENED = "investigation-not-opened"
    INVESTIGATION_ALREADY_ONGOING = "investigation-already-ongoing"


class ConcernFeedbackGiven(_Concern):
    """Emitted by social services' referral service when it tells the reporter whether an
    investigation was opened, not opened or is already ongoing."""

    TYPE = "se.samverkan.concern.feedback-given.v1"

    report_id: UUID
    recipient: FunctionRef
    reporter: FunctionRef
    decision: ConcernDecision
    given_by: PersonId
    given_at: datetime
