"""CloudEvents 1.0 envelope in the Kafka protocol binding, binary mode: decided here only.

- Attributes travel as Kafka headers named `ce_<attribute>` (HEADERS lists them, required or
  not, with our extension attributes), the payload as the JSON message value with
  `content-type: application/json`, and W3C trace context as the plain `traceparent` header,
  where OpenTelemetry instrumentation of any Kafka client looks for it.
- The message key is the aggregate id (each event class's KEY, e.g. the referral id): every
  event of one aggregate lands on one partition, in order.
- Topics are named `samverkan.<domain>.v<major>` and types `se.samverkan.<domain>.<event>.v<major>`:
  within a major version only backward-compatible changes; a breaking change is a new major
  version, with a new type and a new topic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from samverkan.contracts.catalogue import EVENT_TYPES
from samverkan.contracts.events import DataClassification, Event, LegalBasis

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
MAX_EVENT_BYTES = 512 * 1024


@dataclass(frozen=True)
class Header:
    """One Kafka header of the envelope."""

    name: str
    required: bool
    description: str
    extension: bool = False  # ours, not a CloudEvents context attribute


HEADERS: tuple[Header, ...] = (
    Header("ce_specversion", True, f"CloudEvents version, always {SPEC_VERSION!r}."),
    Header("ce_id", True, "Event id (UUID), unique per event: deduplicate on it."),
    Header("ce_source", True, "urn:samverkan:<principal>:<service> of the producer."),
    Header("ce_type", True, "se.samverkan.<domain>.<event>.v<major>: picks the payload schema."),
    Header("ce_time", False, "When the event happened (RFC 3339); always sent by our producers."),
    Header("ce_subject", False, "The message key again: the aggregate the event is about."),
    Header(
        "ce_sourceprincipal",
        True,
        "Id of the principal (huvudman) that produced and signed the event.",
        extension=True,
    ),
    Header(
        "ce_recipientprincipal",
        False,
        "Id of the principal the event is addressed to; absent when it is for everyone.",
        extension=True,
    ),
    Header(
        "ce_legalbasis",
        False,
        "Why personal data may cross: consent, duty-to-report or none (the default).",
        extension=True,
    ),
    Header(
        "ce_dataclassification",
        False,
        "public, internal (the default) or personal: what may be logged or forwarded.",
        extension=True,
    ),
    Header("content-type", False, f"{CONTENT_TYPE} (the default)."),
    Header("traceparent", False, "W3C trace context of the operation that caused the event."),
)
REQUIRED_HEADERS = tuple(h.name for h in HEADERS if h.required and h.name != "ce_specversion")


class InvalidEvent(ValueError):
    """A message that is not a valid event of our catalogue; the reason is for the dead-letter record."""


class CloudEvent(BaseModel):
    """One event with its CloudEvents context attributes and our extension attributes."""

    model_config = ConfigDict(frozen=True)

    id: UUID = Field(default_factory=uuid4)
    source: str
    type: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None
    sourceprincipal: str
    recipientprincipal: str | None = None
    legalbasis: LegalBasis = LegalBasis.NONE
    dataclassification: DataClassification = DataClassification.INTERNAL
    traceparent: str | None = None
    data: Event

    @classmethod
    def wrap(
        cls,
        data: Event,
        *,
        principal: str,
        service: str,
        recipient: str | None = None,
        legalbasis: LegalBasis | None = None,
        classification: DataClassification | None = None,
        traceparent: str | None = None,
    ) -> CloudEvent:
        """Wrap a payload; legal basis and classification default to the event class's own."""
        return cls(
            source=source_uri(principal, service),
            type=data.TYPE,
            subject=data.key(),
            sourceprincipal=principal,
            recipientprincipal=recipient,
            legalbasis=legalbasis or data.LEGAL_BASIS,
            dataclassification=classification or data.CLASSIFICATION,
            traceparent=traceparent,
            data=data,
        )

    @property
    def topic(self) -> str:
        return self.data.TOPIC

    def key(self) -> bytes:
        return self.data.key().encode()

    def value(self) -> bytes:
        return self.data.model_dump_json().encode()

    def headers(self) -> list[tuple[str, bytes]]:
        attributes: dict[str, str | None] = {
            "ce_specversion": SPEC_VERSION,
            "ce_id": str(self.id),
            "ce_source": self.source,
            "ce_type": self.type,
            "ce_time": self.time.isoformat(),
            "ce_subject": self.subject,
            "ce_sourceprincipal": self.sourceprincipal,
            "ce_recipientprincipal": self.recipientprincipal,
            "ce_legalbasis": self.legalbasis.value,
            "ce_dataclassification": self.dataclassification.value,
            "content-type": CONTENT_TYPE,
            "traceparent": self.traceparent,
        }
        return [(k, v.encode()) for k, v in attributes.items() if v is not None]

    @classmethod
    def from_kafka(
        cls, value: bytes | None, headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes]
    ) -> CloudEvent:
        """Parse a Kafka record in binary mode; raise InvalidEvent with a precise reason."""
        items = headers.items() if isinstance(headers, Mapping) else headers
        try:
            attrs = {k: (v or b"").decode() for k, v in items}
        except UnicodeDecodeError:
            raise InvalidEvent("a header is not UTF-8") from None
        if attrs.get("ce_specversion") != SPEC_VERSION:
            raise InvalidEvent(f"ce_specversion must be {SPEC_VERSION!r}")
        missing = [h for h in REQUIRED_HEADERS if h not in attrs]
        if missing:
            raise InvalidEvent(f"missing CloudEvents header(s): {', '.join(missing)}")
        content_type = attrs.get("content-type", CONTENT_TYPE).split(";")[0].strip()
        if content_type != CONTENT_TYPE:
            raise InvalidEvent(f"content-type must be {CONTENT_TYPE}, got {content_type!r}")
        event_class = EVENT_TYPES.get(attrs["ce_type"])
        if event_class is None:
            raise InvalidEvent(f"unknown event type {attrs['ce_type']!r}")
        if value is None:
            raise InvalidEvent("message has no value")
        if len(value) > MAX_EVENT_BYTES:
            raise InvalidEvent(f"value is {len(value)} bytes, more than {MAX_EVENT_BYTES}")
        try:
            data = event_class.model_validate_json(value)
            return cls(
                id=attrs["ce_id"],
                source=attrs["ce_source"],
                type=attrs["ce_type"],
                time=attrs.get("ce_time") or datetime.now(UTC),
                subject=attrs.get("ce_subject"),
                sourceprincipal=attrs["ce_sourceprincipal"],
                recipientprincipal=attrs.get("ce_recipientprincipal"),
                legalbasis=attrs.get("ce_legalbasis", LegalBasis.NONE),
                dataclassification=attrs.get("ce_dataclassification", DataClassification.INTERNAL),
                traceparent=attrs.get("traceparent"),
                data=data,
            )
        except ValidationError as exc:
            raise InvalidEvent(_describe(exc)) from None


def source_uri(principal: str, service: str) -> str:
    return f"urn:samverkan:{principal}:{service}"


def topic_for(event_type: str) -> str:
    return EVENT_TYPES[event_type].TOPIC


def event_type_for(event_class: type[Event]) -> str:
    return event_class.TYPE


def _describe(exc: ValidationError) -> str:
    """A schema error as one line that names fields but never echoes their (maybe personal) values."""
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()]
    return "invalid payload: " + "; ".join(parts)
