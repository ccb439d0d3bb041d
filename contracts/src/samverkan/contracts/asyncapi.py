"""The AsyncAPI 3.0 document for integrators: topics, messages, envelope headers, keys, examples.

Written from an integrator's point of view (it receives from every topic). Payload schemas are
the same as the committed JSON Schemas, with their shared definitions lifted into components.
"""

from __future__ import annotations

import inspect
import json
from importlib.metadata import version
from typing import Any

from samverkan.contracts import examples, topics
from samverkan.contracts.catalogue import EVENT_CLASSES
from samverkan.contracts.envelope import CONTENT_TYPE, HEADERS
from samverkan.contracts.events import Event
from samverkan.contracts.schemas import event_schema

KAFKA_BINDING = "0.5.0"
HEADERS_SCHEMA = "CloudEventHeaders"

DESCRIPTION = """\
Events that Swedish public organisations (huvudmän: municipalities, regions, independent school
operators) exchange over a shared Kafka backbone to refer children to each other for early
mental-health help, with consent, and with a legal audit trail.

Every message is a CloudEvents 1.0 event in the Kafka protocol binding, binary mode: context
attributes in `ce_*` headers, the payload as the JSON message value. The `ce_type` header names
the payload schema. The message key is the aggregate id (for example the referral id): events
of one aggregate are in order; there is no order across keys or topics.

Delivery is at least once: deduplicate on `ce_id`. Within a major version (`.v1` in topic and
type) changes are backward compatible: a consumer of the current schemas reads every event
ever written under that major version.
"""


def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {HEADERS_SCHEMA: _headers_schema()}
    messages: dict[str, Any] = {}
    for event_class in EVENT_CLASSES:
        schemas[event_class.__name__] = _lift(event_schema(event_class), schemas)
        messages[event_class.__name__] = _message(event_class)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Samverkan events",
            "version": version("samverkan-contracts"),
            "description": DESCRIPTION.strip(),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "backbone": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "The shared Kafka backbone. The host is a placeholder: each network "
                "names its own bootstrap servers (KAFKA_BOOTSTRAP_SERVERS).",
                "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING}},
            }
        },
        "channels": {_name(topic): _channel(topic) for topic in topics.ALL},
        "operations": {f"receive-{_name(topic)}": _operation(topic) for topic in topics.ALL},
        "components": {"schemas": schemas, "messages": messages},
    }


def _name(topic: str) -> str:
    return topic.split(".")[1]


def _of(topic: str) -> list[type[Event]]:
    return [cls for cls in EVENT_CLASSES if topic == cls.TOPIC]


def _channel(topic: str) -> dict[str, Any]:
    return {
        "address": topic,
        "description": topics.DESCRIPTIONS[topic],
        "messages": {
            cls.__name__: {"$ref": f"#/components/messages/{cls.__name__}"} for cls in _of(topic)
        },
        "bindings": {
            "kafka": {
                "topic": topic,
                "partitions": topics.DEFAULT_PARTITIONS,
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _operation(topic: str) -> dict[str, Any]:
    name = _name(topic)
    return {
        "action": "receive",
        "channel": {"$ref": f"#/channels/{name}"},
        "summary": f"Consume {topic}.",
        "messages": [{"$ref": f"#/channels/{name}/messages/{cls.__name__}"} for cls in _of(topic)],
        "bindings": {
            "kafka": {
                "groupId": {
                    "type": "string",
                    "description": "Your own group id, stable across restarts and shared by "
                    "the replicas of one integration, e.g. `<organisation>.<integration>`.",
                },
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }


def _message(event_class: type[Event]) -> dict[str, Any]:
    summary, _, details = inspect.cleandoc(event_class.__doc__ or "").partition("\n\n")
    example = examples.envelope(event_class)
    message: dict[str, Any] = {
        "name": event_class.TYPE,
        "title": event_class.__name__,
        "summary": " ".join(summary.split()),
        "contentType": CONTENT_TYPE,
        "headers": {
            "type": "object",
            "allOf": [
                {"$ref": f"#/components/schemas/{HEADERS_SCHEMA}"},
                {"properties": {"ce_type": {"const": event_class.TYPE}}},
            ],
        },
        "payload": {"$ref": f"#/components/schemas/{event_class.__name__}"},
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": f"The aggregate id: `{event_class.KEY}` over the payload.",
                },
                "bindingVersion": KAFKA_BINDING,
            }
        },
        "examples": [
            {
                "name": "example",
                "headers": {k: v.decode() for k, v in example.headers()},
                "payload": json.loads(example.value()),
            }
        ],
        "x-data-classification": event_class.CLASSIFICATION.value,
        "x-legal-basis": event_class.LEGAL_BASIS.value,
    }
    if details:
        message["description"] = details
    return message


def _headers_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes in the Kafka binding (binary mode), and ours.",
        "required": [h.name for h in HEADERS if h.required],
        "properties": {
            h.name: {
                "type": "string",
                "description": h.description + (" Extension attribute." if h.extension else ""),
            }
            for h in HEADERS
        },
    }


def _lift(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    """Move the schema's $defs into components (identical ones shared) and point refs there."""
    payload = json.loads(
        json.dumps(schema).replace('"#/$defs/', '"#/components/schemas/'), object_hook=dict
    )
    payload.pop("$schema")
    for name, definition in payload.pop("$defs", {}).items():
        if components.setdefault(name, definition) != definition:
            raise ValueError(f"two different schemas are both called {name!r}")
    return payload
