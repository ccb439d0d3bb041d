"""What an integrator's webhook receives: the CloudEvent in structured JSON mode, and for which
events. Only events this principal sent or that are addressed to it are ever delivered."""

from __future__ import annotations

import json
from typing import Any

from samverkan.contracts import CloudEvent, topics
from samverkan.contracts.catalogue import EVENT_CLASSES
from samverkan.contracts.events import DataClassification
from samverkan.contracts.notification import NotificationFailed, NotificationSent
from samverkan.notification.routing import concerns

CONTENT_TYPE = "application/cloudevents+json"
# Directory, audit and dead-letter topics are not offered: the first two are public and read
# from Kafka, dead letters may hold anything.
TOPICS = (topics.REFERRAL, topics.CONSENT, topics.CONCERN, topics.CONSULTATION, topics.NOTIFICATION)
EVENT_TYPES = frozenset(cls.TYPE for cls in EVENT_CLASSES if cls.TOPIC in TOPICS)


def deliverable(event: CloudEvent, me: str) -> bool:
    if event.type not in EVENT_TYPES or not concerns(event, me):
        return False
    # A failing receiver must not be told about its own failures (that would never end).
    data = event.data
    return not (
        isinstance(data, NotificationSent | NotificationFailed) and data.channel == "webhook"
    )


def structured(event: CloudEvent, *, include_personal_data: bool) -> bytes:
    """The event as a CloudEvents JSON document. A personal event (dataclassification personal)
    carries its `data` only for subscriptions that include personal data; otherwise `data` is
    left out and `dataomitted` says why: the envelope (type, subject = the aggregate id, times,
    principals, legal basis) is enough to fetch the rest through the principal's own API."""
    document: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(event.id),
        "source": event.source,
        "type": event.type,
        "time": event.time.isoformat(),
        "subject": event.subject,
        "datacontenttype": "application/json",
        "sourceprincipal": event.sourceprincipal,
        "recipientprincipal": event.recipientprincipal,
        "legalbasis": event.legalbasis.value,
        "dataclassification": event.dataclassification.value,
    }
    if event.dataclassification is DataClassification.PERSONAL and not include_personal_data:
        document["dataomitted"] = "personal"
    else:
        document["data"] = json.loads(event.value())
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()
