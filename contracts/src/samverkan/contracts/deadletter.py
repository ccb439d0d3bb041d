"""The dead-letter event: a message a consumer could not accept, with the reason it gave."""

from __future__ import annotations

from datetime import datetime

from samverkan.contracts import topics
from samverkan.contracts.events import DataClassification, Event
from samverkan.contracts.values import ShortText


class DeadLettered(Event):
    """Emitted by any consumer that rejects a message (unparseable, invalid, unknown type, refused).

    The original position is kept, the value's first 64 KiB with its full size and SHA-256, the
    first 64 headers, and the key, each header and the reason cut at 1 KiB, so that the message
    can be inspected and, from the source topic, replayed; the partition it came from keeps
    flowing.
    """

    TYPE = "se.samverkan.deadletter.dead-lettered.v1"
    TOPIC = topics.DEAD_LETTER
    KEY = "{topic}/{partition}/{offset}"
    CLASSIFICATION = DataClassification.PERSONAL  # the original bytes may be anything

    consumer_group: ShortText
    topic: ShortText
    partition: int
    offset: int
    key_b64: str | None
    value_b64: str
    value_size: int | None = None
    value_sha256: str | None = None
    headers: dict[str, str]
    reason: str
    dead_lettered_at: datetime
