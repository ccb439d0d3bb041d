"""Base class of every event payload: frozen pydantic models that know their type and topic."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class DataClassification(StrEnum):
    """How sensitive the payload is; decides what may be logged or forwarded."""

    PUBLIC = "public"  # directory entries
    INTERNAL = "internal"  # ids and status, no personal data
    PERSONAL = "personal"  # personnummer, names or free text about a child


class LegalBasis(StrEnum):
    """Why personal data in the payload may cross from one principal to another."""

    CONSENT = "consent"  # samtycke
    DUTY_TO_REPORT = "duty-to-report"  # orosanmälan, SoL 14 kap. 1 §
    NONE = "none"  # no personal data crosses


# Payload models read leniently and publish strictly: a node ignores fields a newer minor
# version added (principals upgrade independently), while the generated JSON Schemas stay closed,
# stating exactly what this version emits and keeping the compatibility check precise.
PAYLOAD_CONFIG = ConfigDict(
    frozen=True, extra="ignore", json_schema_extra={"additionalProperties": False}
)


class Event(BaseModel):
    """An event payload. Subclasses set TYPE (CloudEvents `type`) and TOPIC (Kafka topic).

    KEY is the Kafka message key as a template over the payload's fields: the aggregate id.
    Every event of one aggregate shares a key, and so a partition, which is what keeps them in
    order. CLASSIFICATION and LEGAL_BASIS are what the envelope says about the event unless the
    producer states otherwise.
    """

    model_config = PAYLOAD_CONFIG

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]
    KEY: ClassVar[str]
    CLASSIFICATION: ClassVar[DataClassification] = DataClassification.INTERNAL
    LEGAL_BASIS: ClassVar[LegalBasis] = LegalBasis.NONE

    def key(self) -> str:
        return self.KEY.format_map(self.__dict__)  # the fields (extras are ignored, not kept)
