"""A referral that arrives before this node's directory copy knows its recipient waits, then applies."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaProducer
from support import (
    eventually,
    referral_sent,
    running,
    school_to_health_centre,
    seed_directory,
    settings,
    signed_headers,
    unique,
)

from samverkan.referral.app import build
from samverkan.referral.settings import ReferralSettings

pytestmark = pytest.mark.integration


async def test_referral_waits_for_the_directory_then_applies(
    database: str, kafka_bootstrap: str
) -> None:
    school, region = unique("school"), unique("region")
    node, app = build(
        settings(ReferralSettings, principal=region, dsn=database, kafka=kafka_bootstrap)
    )
    school_entries, region_entry = (
        school_to_health_centre(school, region)[:2],
        school_to_health_centre(school, region)[2:],
    )
    event = referral_sent(school, region)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with running(node, app):
            await seed_directory(node, school_entries)  # the recipient function is missing
            await producer.send_and_wait(
                event.topic, event.value(), key=event.key(), headers=signed_headers(event)
            )
            await asyncio.sleep(2)
            assert await node.pool.fetchval("SELECT count(*) FROM referrals") == 0

            await seed_directory(node, region_entry)

            async def stored() -> bool:
                return await node.pool.fetchval("SELECT count(*) FROM referrals") == 1

            # Applied at all proves it was rewound, not dead-lettered (that would have committed it).
            await eventually("the waiting referral to be applied", stored)
    finally:
        await producer.stop()
