"""Samverkan event contracts: the envelope and every event payload, as pydantic models."""

from samverkan.contracts.envelope import CloudEvent, InvalidEvent, event_type_for, topic_for
from samverkan.contracts.events import Event

__all__ = ["CloudEvent", "Event", "InvalidEvent", "event_type_for", "topic_for"]
