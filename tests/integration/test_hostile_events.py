"""Hostile records against every consumer: the directory, referral, notification and audit
services of one node read the same partition of the directory topic (all four subscribe to it),
and it carries one record of each kind of poison before a genuine event.

Each poison record is dead-lettered by every consumer with a reason naming the defect, the audit
service records each signature failure as a security alert, the genuine event after them is
applied by every consumer (the partition keeps flowing) and every service still answers.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from integration.node_services import SERVICES, Service, services
from integration.test_referral_harness import make_database
from support import eventually, read_topic, seed_keys, signing_key, unique

from samverkan.contracts import CloudEvent, topics
from samverkan.contracts.deadletter import DeadLettered
from samverkan.contracts.directory import FunctionPublished, UnitKind
from samverkan.contracts.envelope import MAX_EVENT_BYTES
from samverkan.devnet.embedded import EmbeddedPostgres
from samverkan.runtime.consumer import DEAD_LETTER_FIELD_LIMIT, DEAD_LETTER_VALUE_LIMIT
from samverkan.runtime.signing import Signer

pytestmark = pytest.mark.integration

Headers = list[tuple[str, bytes | None]]
# The embedded broker takes it; a Kafka at its default message.max.bytes (1 MB) would refuse
# it at the door, and the consumer's own limit (MAX_EVENT_BYTES, 512 KiB) is the one tested.
OVERSIZED = 2 * 1024 * 1024
OVERSIZED_KEY = 800 * 1024


def _function(principal: str) -> CloudEvent:
    data = FunctionPublished(
        principal=principal,
        function=unique("kurator"),
        name="Kurator",
        unit="skolan",
        unit_name="Skolan",
        unit_kind=UnitKind.SCHOOL,
        mailbox="kurator@school.example",
        valid_from=date(2025, 1, 1),
    )
    return CloudEvent.wrap(data, principal=principal, service="directory")


def _signed(by: str, headers: Headers, value: bytes) -> Headers:
    return Signer(signing_key(by), "key-1").sign(headers, value)


def _replace(headers: Headers, name: str, value: bytes | None) -> Headers:
    return [(k, value if k == name else v) for k, v in headers]


@dataclass(frozen=True)
class Poison:
    """One hostile record: how it is made from a genuine event, and the reason it must get."""

    name: str
    make: Callable[[CloudEvent, str, str], tuple[Headers, bytes]]  # (event, peer, impostor)
    reason: str
    security: bool = False
    key: bytes | None = None  # instead of the event's own key


def _value_of_size(size: int) -> Callable[[CloudEvent, str, str], tuple[Headers, bytes]]:
    def make(event: CloudEvent, peer: str, impostor: str) -> tuple[Headers, bytes]:
        value = json.loads(event.value())
        value["name"] = "x" * (size - len(event.value()))
        raw = json.dumps(value).encode()
        return _signed(peer, event.headers(), raw), raw

    return make


def _bad_bytes(event: CloudEvent, peer: str, impostor: str) -> tuple[Headers, bytes]:
    headers = [*event.headers(), ("x-note", b"\xff\xfe\xfa")]
    return _signed(peer, headers, event.value()), event.value()


def _forged(event: CloudEvent, peer: str, impostor: str) -> tuple[Headers, bytes]:
    headers = _signed(peer, event.headers(), event.value())
    return _replace(headers, "ce_signature", b"A" * 86 + b"=="), event.value()


POISONS = [
    Poison(
        "malformed JSON",
        lambda e, p, i: (_signed(p, e.headers(), b'{"principal": '), b'{"principal": '),
        "invalid payload: (root): Invalid JSON",
    ),
    Poison(
        "schema-invalid payload",
        lambda e, p, i: (_signed(p, e.headers(), b'{"principal": 7}'), b'{"principal": 7}'),
        "invalid payload: principal: Input should be a valid string",
    ),
    Poison("oversized value", _value_of_size(OVERSIZED), f"more than {MAX_EVENT_BYTES}"),
    Poison(
        "wrong content type",
        lambda e, p, i: (
            _signed(p, [*e.headers(), ("content-type", b"text/xml")], e.value()),
            e.value(),
        ),
        "content-type must be application/json, got 'text/xml'",
    ),
    Poison(
        "unknown event type",
        lambda e, p, i: (
            _signed(p, _replace(e.headers(), "ce_type", b"se.samverkan.nope.v1"), e.value()),
            e.value(),
        ),
        "unknown event type 'se.samverkan.nope.v1'",
    ),
    Poison("non-UTF-8 header", _bad_bytes, "a header is not UTF-8"),
    Poison(
        "null header value",
        lambda e, p, i: (_replace(_signed(p, e.headers(), e.value()), "ce_type", None), e.value()),
        "unknown event type ''",
    ),
    Poison(
        "oversized key, unsigned",  # its dead letter must still fit the broker
        lambda e, p, i: (e.headers(), e.value()),
        "security: the event is not signed",
        security=True,
        key=b"k" * OVERSIZED_KEY,
    ),
    Poison(
        "unsigned",
        lambda e, p, i: (e.headers(), e.value()),
        "security: the event is not signed",
        security=True,
    ),
    Poison("forged signature", _forged, "security: the signature does not verify", True),
    Poison(
        "mis-attributed",  # the impostor, a known principal, signs as the peer
        lambda e, p, i: (_signed(i, e.headers(), e.value()), e.value()),
        "security: the signature does not verify",
        security=True,
    ),
]


@dataclass
class Outcome:
    services: dict[str, Service]
    offsets: dict[str, int]  # poison name → its offset on partition 0 of the directory topic
    letters: dict[tuple[str, int], dict[str, Any]]  # (consumer group, offset) → dead letter
    genuine: CloudEvent


async def _send(producer: AIOKafkaProducer, key: bytes, headers: Headers, value: bytes) -> int:
    meta = await producer.send_and_wait(
        topics.DIRECTORY, value, key=key, headers=headers, partition=0
    )
    return meta.offset


@pytest.fixture(scope="module")
async def outcome(
    postgres: EmbeddedPostgres | None, kafka_bootstrap: str
) -> AsyncIterator[Outcome]:
    me, peer, impostor = unique("kommun"), unique("region"), unique("impostor")
    databases = functools.partial(make_database, postgres)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", max_request_size=2 * OVERSIZED
    )
    await producer.start()
    try:
        async with services(me, databases, kafka_bootstrap) as running:
            for service in running.values():
                await seed_keys(service.node, me, peer, impostor)
            offsets = {}
            for poison in POISONS:
                event = _function(peer)
                headers, value = poison.make(event, peer, impostor)
                key = poison.key or event.key()
                offsets[poison.name] = await _send(producer, key, headers, value)
            genuine = _function(peer)
            await _send(
                producer,
                genuine.key(),
                _signed(peer, genuine.headers(), genuine.value()),
                genuine.value(),
            )
            groups = {s.node.group for s in running.values()}
            wanted = {(g, o) for g in groups for o in offsets.values()}

            def ours(records: list[Any]) -> dict[tuple[str, int], dict[str, Any]]:
                letters = (json.loads(r.value) for r in records)
                return {
                    (d["consumer_group"], d["offset"]): d
                    for d in letters
                    if d["topic"] == topics.DIRECTORY
                    and (d["consumer_group"], d["offset"]) in wanted
                }

            records = await read_topic(
                kafka_bootstrap, topics.DEAD_LETTER, lambda rs: len(ours(rs)) == len(wanted)
            )
            yield Outcome(running, offsets, ours(records), genuine)
    finally:
        await producer.stop()


@pytest.mark.parametrize("poison", POISONS, ids=lambda p: p.name)
@pytest.mark.parametrize("service", SERVICES)
async def test_each_poison_is_dead_lettered_with_its_reason(
    outcome: Outcome, service: str, poison: Poison
) -> None:
    group = outcome.services[service].node.group
    letter = outcome.letters.get((group, outcome.offsets[poison.name]))
    assert letter is not None, f"{group} did not dead-letter the {poison.name} record"
    assert poison.reason in letter["reason"], letter["reason"]


@pytest.mark.parametrize("service", SERVICES)
async def test_the_partition_keeps_flowing_and_the_service_answers(
    outcome: Outcome, service: str
) -> None:
    node, client = outcome.services[service].node, outcome.services[service].client

    async def applied() -> bool:
        return bool(
            await node.pool.fetchval(
                "SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = $2",
                node.group,
                outcome.genuine.id,
            )
        )

    await eventually(f"{node.group} to apply the genuine event after the poison", applied)
    assert (await client.get("/healthz")).status_code == 200
    assert node.consumer.dead_lettered_total >= len(POISONS)


async def test_a_dead_letter_keeps_the_size_and_a_bounded_part_of_an_oversized_value(
    outcome: Outcome,
) -> None:
    group = outcome.services["referral"].node.group
    letter = outcome.letters[(group, outcome.offsets["oversized value"])]
    assert letter["value_size"] >= OVERSIZED
    assert len(base64.b64decode(letter["value_b64"])) == DEAD_LETTER_VALUE_LIMIT


async def test_a_dead_letter_cuts_an_oversized_key(outcome: Outcome) -> None:
    group = outcome.services["directory"].node.group
    letter = outcome.letters[(group, outcome.offsets["oversized key, unsigned"])]
    assert base64.b64decode(letter["key_b64"]) == b"k" * DEAD_LETTER_FIELD_LIMIT


async def test_audit_records_every_signature_failure_as_a_security_alert(outcome: Outcome) -> None:
    audit = outcome.services["audit"].node
    expected = {
        (s.node.group, outcome.offsets[p.name])
        for s in outcome.services.values()
        for p in POISONS
        if p.security
    }

    async def alerts() -> set[tuple[str, int]] | None:
        rows = await audit.pool.fetch(
            "SELECT payload FROM audit_log WHERE type = $1", DeadLettered.TYPE
        )
        letters = [json.loads(r["payload"]) for r in rows]
        found = {
            (d["consumer_group"], d["offset"])
            for d in letters
            if d["topic"] == topics.DIRECTORY and "security:" in d["reason"]
        }
        return found if expected <= found else None

    found = await eventually("audit to record every signature failure", alerts)
    non_security = {outcome.offsets[p.name] for p in POISONS if not p.security}
    assert not {offset for _, offset in found} & non_security
