"""Nothing forged is believed: unsigned, altered or mis-attributed events are dead-lettered as
security alerts, nothing of them is committed, and the partition keeps flowing."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from support import (
    eventually,
    read_topic,
    referral_sent,
    running,
    school_to_health_centre,
    seed_before_start,
    seed_directory,
    seed_keys,
    send_raw,
    settings,
    signed_headers,
    signing_key,
    unique,
)

from samverkan.contracts import topics
from samverkan.referral.app import build
from samverkan.referral.settings import ReferralSettings
from samverkan.runtime import verifiers
from samverkan.runtime.signing import Signer

pytestmark = pytest.mark.integration


async def test_forgeries_are_dead_lettered_and_genuine_events_still_apply(
    database: str, kafka_bootstrap: str
) -> None:
    school, region, intruder = unique("school"), unique("region"), unique("intruder")
    node, app = build(
        settings(ReferralSettings, principal=region, dsn=database, kafka=kafka_bootstrap)
    )
    unsigned, altered, impostor, genuine = (referral_sent(school, region) for _ in range(4))
    # The intruder, a known principal, signs with its own key but claims to be the school.
    impostor_headers = Signer(signing_key(intruder), "key-1").sign(
        impostor.headers(), impostor.value()
    )
    altered_value = json.loads(altered.value())
    altered_value["reason"] = "Ändrad i efterhand"
    records = [
        (unsigned, unsigned.headers(), unsigned.value()),
        (altered, signed_headers(altered), json.dumps(altered_value).encode()),
        (impostor, impostor_headers, impostor.value()),
        (genuine, signed_headers(genuine), genuine.value()),
    ]
    async with running(node, app):
        await seed_directory(node, school_to_health_centre(school, region))
        await seed_keys(node, intruder)
        await send_raw(kafka_bootstrap, records)

        async def genuine_applied() -> bool:
            ids = {r["id"] for r in await node.pool.fetch("SELECT id FROM referrals")}
            return genuine.data.referral_id in ids  # type: ignore[attr-defined]

        await eventually("the genuine referral behind the forgeries", genuine_applied)
        stored = await node.pool.fetchval("SELECT count(*) FROM referrals")
        assert stored == 1, "a forged referral was applied"

    def three(records: list) -> bool:  # type: ignore[type-arg]
        return sum(json.loads(r.value)["consumer_group"] == node.group for r in records) >= 3

    letters = sorted(
        (
            json.loads(r.value)
            for r in await read_topic(kafka_bootstrap, topics.DEAD_LETTER, three)
            if json.loads(r.value)["consumer_group"] == node.group
        ),
        key=lambda letter: letter["offset"],
    )
    reasons = [letter["reason"] for letter in letters]
    assert len(reasons) == 3
    assert "security: the event is not signed" in reasons[0]
    assert "security: the signature does not verify" in reasons[1]
    assert "security: the signature does not verify" in reasons[2]


async def test_a_forgery_in_the_batch_of_the_event_it_copies_uses_up_nothing(
    database: str, kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A forgery refused within a batch sends the batch in parts, down to the forgery alone:
    nothing of the batch is applied or claimed in the inbox on the forgery's account, so that
    the genuine event it copies (same id) still applies, once, and the rest of the batch with it,
    in parts applied together rather than one event at a time. The batch is large enough for
    its signatures to be checked in a worker process, while it is applied."""
    school, region = unique("school"), unique("region")
    node, app = build(
        settings(ReferralSettings, principal=region, dsn=database, kafka=kafka_bootstrap)
    )
    genuine = [referral_sent(school, region) for _ in range(verifiers.INLINE_BELOW + 4)]
    copied = genuine[2]
    forged_value = json.loads(copied.value())
    forged_value["reason"] = "Ändrad i efterhand"
    records = [(event, signed_headers(event), event.value()) for event in genuine]
    # The forgery (same id, altered reason) comes before the genuine event it copies.
    records.insert(2, (copied, signed_headers(copied), json.dumps(forged_value).encode()))
    # Everything is on the broker, and the directory known, before the consumer starts: its
    # first poll returns all the records, one batch.
    await seed_before_start(
        node, [school, region], school_to_health_centre(school, region), backlog=records
    )

    caplog.set_level(logging.DEBUG, logger="samverkan.runtime.consumer")
    alone = 0
    apply_alone = node.consumer._apply_alone

    async def counted(item: Any) -> Any:
        nonlocal alone
        alone += 1
        return await apply_alone(item)

    node.consumer._apply_alone = counted  # type: ignore[method-assign]
    async with running(node, app):

        async def all_applied() -> list[str] | None:
            rows = await node.pool.fetch("SELECT reason FROM referrals")
            return [r["reason"] for r in rows] if len(rows) == len(genuine) else None

        reasons = await eventually("every genuine referral", all_applied)
        assert node.consumer.dead_lettered_total == 1
    assert "Ändrad i efterhand" not in reasons
    assert node.consumer.applied_total == len(genuine)
    # What this test is about: they all came in one batch (with what earlier tests left on the
    # partition), which the forgery sent in parts.
    sizes = [
        re.search(r"(\d+) events could not be applied together", r.getMessage())
        for r in caplog.records
    ]
    assert any(int(m[1]) >= len(records) for m in sizes if m)
    # Its parts without the forgery went together: few events were decided alone, the forgery
    # among them (one at a time, all of them would have been).
    assert 1 <= alone < len(records) // 2
    # And its signatures were checked by a worker process, not on a thread after one failed.
    assert not [r for r in caplog.records if r.name == verifiers.__name__]
    assert verifiers._verifiers.processes >= 1 and verifiers._verifiers._workers
