"""Base class of every event payload: frozen pydantic models that know their type and topic."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """An event payload. Subclasses set TYPE (CloudEvents `type`) and TOPIC (Kafka topic).

    `key()` is the aggregate id: every event of one aggregate shares a key, and so a partition,
    which is what keeps them in order.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    TYPE: ClassVar[str]
    TOPIC: ClassVar[str]

    def key(self) -> str:
        raise NotImplementedError
