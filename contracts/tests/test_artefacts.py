"""The committed AsyncAPI document and JSON Schemas say what integrators will actually receive."""

import json
from typing import Any

import jsonschema
import pytest
import yaml

from samverkan.contracts import asyncapi, topics, yamltext
from samverkan.contracts.catalogue import EVENT_CLASSES
from samverkan.contracts.consultation import ConsultationRequested
from samverkan.contracts.envelope import HEADERS
from samverkan.contracts.examples import envelope
from samverkan.contracts.generate import ROOT

pytestmark = pytest.mark.unit

DOCUMENT = yaml.safe_load((ROOT / "asyncapi.yaml").read_text(encoding="utf-8"))


def _schema(event_type: str) -> dict[str, Any]:
    return json.loads((ROOT / "schemas" / f"{event_type}.json").read_text(encoding="utf-8"))


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_the_yaml_reads_back_as_the_document() -> None:
    assert asyncapi.document() == DOCUMENT
    assert DOCUMENT["asyncapi"] == "3.0.0"


def test_yaml_text_survives_awkward_strings() -> None:
    doc = {"#k": ["yes", "3.0", "", "a: b", " lead", "multi\nline\n", "ok\nblock"], "e": [{}, []]}
    assert yaml.safe_load(yamltext.dump(doc)) == doc


def test_every_reference_resolves() -> None:
    refs = _refs(DOCUMENT)
    assert len(refs) > len(EVENT_CLASSES) * 3
    for ref in refs:
        node = DOCUMENT
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]  # KeyError names the broken reference


def test_each_topic_is_a_channel_with_its_kafka_binding_and_all_its_messages() -> None:
    channels = {c["address"]: c for c in DOCUMENT["channels"].values()}
    assert set(channels) == set(topics.ALL)
    for cls in EVENT_CLASSES:
        channel = channels[cls.TOPIC]
        assert channel["bindings"]["kafka"]["topic"] == cls.TOPIC
        assert channel["bindings"]["kafka"]["partitions"] == topics.DEFAULT_PARTITIONS
        assert cls.__name__ in channel["messages"]
        message = DOCUMENT["components"]["messages"][cls.__name__]
        assert message["name"] == cls.TYPE
        assert cls.KEY in message["bindings"]["kafka"]["key"]["description"]
    assert {o["action"] for o in DOCUMENT["operations"].values()} == {"receive"}


def test_the_headers_schema_is_the_envelope() -> None:
    headers = DOCUMENT["components"]["schemas"]["CloudEventHeaders"]
    assert set(headers["properties"]) == {h.name for h in HEADERS}
    assert set(headers["required"]) == {
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_sourceprincipal",
    }


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_what_a_producer_sends_is_valid_under_the_committed_schema(cls) -> None:  # type: ignore[no-untyped-def]
    schema = _schema(cls.TYPE)
    jsonschema.Draft202012Validator.check_schema(schema)
    event = envelope(cls)
    jsonschema.validate(json.loads(event.value()), schema)
    headers = {k: v.decode() for k, v in event.headers()}
    message = DOCUMENT["components"]["messages"][cls.__name__]
    assert message["examples"][0] == {
        "name": "example",
        "headers": headers,
        "payload": json.loads(event.value()),
    }


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_the_committed_schema_refuses_what_the_model_refuses(cls) -> None:  # type: ignore[no-untyped-def]
    schema = _schema(cls.TYPE)
    payload = json.loads(envelope(cls).value())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**payload, "unexpected": 1}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {k: v for k, v in payload.items() if k != schema["required"][0]}, schema
        )


def test_anonymous_text_is_refused_by_the_schema_too() -> None:
    schema = _schema("se.samverkan.consultation.requested.v1")
    payload = json.loads(envelope(ConsultationRequested).value())
    payload["question"] = "Gäller eleven 20120315-1236."
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(payload, schema)
