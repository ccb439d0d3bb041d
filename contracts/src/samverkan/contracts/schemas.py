"""The JSON Schema of each event payload, generated from its model and stamped with its contract."""

from __future__ import annotations

import json
from typing import Any

from samverkan.contracts.catalogue import EVENT_CLASSES
from samverkan.contracts.events import Event

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def event_schema(event_class: type[Event]) -> dict[str, Any]:
    """The schema a consumer validates the Kafka message value of this event type against."""
    generated = event_class.model_json_schema(mode="validation")
    definitions = generated.pop("$defs", None)
    schema = {
        "$schema": DIALECT,
        "title": generated.pop("title"),
        "description": generated.pop("description"),
        # Annotations for readers and tools; the compatibility check ignores x-* keywords.
        "x-cloudevents-type": event_class.TYPE,
        "x-kafka-topic": event_class.TOPIC,
        "x-kafka-key": event_class.KEY,
        "x-data-classification": event_class.CLASSIFICATION.value,
        "x-legal-basis": event_class.LEGAL_BASIS.value,
        **generated,
    }
    if definitions:  # last, so that a reader meets the event's own fields first
        schema["$defs"] = definitions
    return schema


def all_schemas() -> dict[str, dict[str, Any]]:
    return {cls.TYPE: event_schema(cls) for cls in EVENT_CLASSES}


def dumps(document: Any) -> str:
    """The one way schemas are written, so that regenerating an unchanged model changes no byte."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
