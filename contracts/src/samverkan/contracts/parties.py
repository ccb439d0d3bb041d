"""Who and what the events are about: functions at principals, the child, the need, the decider."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel

from samverkan.contracts.events import PAYLOAD_CONFIG
from samverkan.contracts.values import Personnummer, ShortText, Slug


class Need(StrEnum):
    """What kind of help the child needs; formalised contacts are defined per need."""

    MEDICAL_PSYCHOLOGICAL = "medical-psychological"
    PSYCHOSOCIAL = "psychosocial"


class Decider(StrEnum):
    """Who decided about consent: the child alone (mature enough), the guardians, or both."""

    CHILD = "child"
    GUARDIANS = "guardians"
    CHILD_AND_GUARDIANS = "child-and-guardians"


class FunctionRef(BaseModel):
    """A function (role / functional mailbox) at a principal: the sender or recipient of a referral."""

    model_config = PAYLOAD_CONFIG
    principal: Slug
    function: Slug


class Child(BaseModel):
    """The child a referral, consent or report of concern is about. Personal data."""

    model_config = PAYLOAD_CONFIG
    personnummer: Personnummer
    name: ShortText
