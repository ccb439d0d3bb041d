"""A redelivered event is applied once; a poison message is dead-lettered and the partition flows."""

from __future__ import annotations

import base64
import json

import pytest
from aiokafka import AIOKafkaProducer
from support import (
    eventually,
    read_topic,
    referral_sent,
    running,
    school_to_health_centre,
    seed_directory,
    settings,
    signed_headers,
    unique,
)

from samverkan.contracts import CloudEvent, topics
from samverkan.referral.app import build
from samverkan.referral.settings import ReferralSettings

pytestmark = pytest.mark.integration


async def _send(producer: AIOKafkaProducer, event: CloudEvent, value: bytes | None = None) -> None:
    # One explicit partition for every record, so the order below is the order consumed.
    await producer.send_and_wait(
        event.topic,
        value if value is not None else event.value(),
        key=event.key(),
        headers=signed_headers(event),
        partition=0,
    )


async def test_duplicate_applied_once_and_poison_dead_lettered(
    database: str, kafka_bootstrap: str
) -> None:
    school, region = unique("school"), unique("region")
    node, app = build(
        settings(ReferralSettings, principal=region, dsn=database, kafka=kafka_bootstrap)
    )
    first, second = referral_sent(school, region), referral_sent(school, region)
    poison = b'{"referral_id": "not-a-uuid"}'
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with running(node, app):
            await seed_directory(node, school_to_health_centre(school, region))
            await eventually("the consumer to join", lambda: _true(node.broker_connected.is_set()))
            await _send(producer, first)
            await _send(producer, first)  # redelivery: same ce_id
            await _send(producer, referral_sent(school, region), value=poison)
            await _send(producer, referral_sent(school, region), value=b'{"referral_id": "trunc')
            bad_header = referral_sent(school, region)
            await producer.send_and_wait(
                bad_header.topic,
                bad_header.value(),
                key=bad_header.key(),
                partition=0,
                headers=[*signed_headers(bad_header), ("ce_subject", b"\xff\xfe not utf-8")],
            )
            await _send(producer, second)  # after the poison, in the same partition

            async def both_stored() -> int | None:
                n = await node.pool.fetchval("SELECT count(*) FROM referrals")
                return n if n == 2 else None

            await eventually("both referrals to be stored", both_stored)
            receipts = await node.pool.fetchval(
                "SELECT count(*) FROM outbox WHERE headers::text LIKE '%referral.received%'"
            )
            applied = await node.pool.fetch(
                "SELECT event_id FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
                node.group,
                [first.id, second.id],
            )
            assert receipts == 2, "one technical receipt per referral, none for the duplicate"
            assert sorted(r["event_id"] for r in applied) == sorted([first.id, second.id])
            assert node.consumer.dead_lettered_total == 3  # schema, truncated JSON, bad header
    finally:
        await producer.stop()

    def found(records: list) -> bool:
        return sum(_letter(r)["consumer_group"] == node.group for r in records) >= 3

    letters = [_letter(r) for r in await read_topic(kafka_bootstrap, topics.DEAD_LETTER, found)]
    mine = sorted(
        (letter for letter in letters if letter["consumer_group"] == node.group),
        key=lambda letter: letter["offset"],
    )
    assert len(mine) == 3
    assert base64.b64decode(mine[0]["value_b64"]) == poison
    assert mine[0]["value_size"] == len(poison)
    assert mine[0]["topic"] == topics.REFERRAL
    assert "invalid payload" in mine[0]["reason"] and "referral_id" in mine[0]["reason"]
    assert "invalid payload" in mine[1]["reason"]
    assert "UTF-8" in mine[2]["reason"]


def _letter(record) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(record.value)


async def _true(value: bool) -> bool:
    return value
