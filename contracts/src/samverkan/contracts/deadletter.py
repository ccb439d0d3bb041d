"""The dead-letter event: a message a consumer could not accept, kept whole with the reason."""

from __future__ import annotations

from datetime import datetime

from samverkan.contracts import topics
from samverkan.contracts.events import DataClassification, Event
from samverkan.contracts.values import ShortText


class DeadLettered(Event):
    """Emitted by any consumer that rejects a message (unparseable, invalid, unknown type, refused).

    The original bytes, headers and position are kept so that the message can be inspected and
    replayed; the partition it came from keeps flowing.
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
    headers: dict[str, str]
    reason: str
    dead_lettered_at: datetime
