"""Pinned first keys: with trusted_keys configured, a principal's first key is believed only if
its fingerprint is listed; anything else is a security alert, and nothing signed by it applies."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fastapi import FastAPI
from support import (
    eventually,
    key_fingerprint,
    public_key_event,
    read_topic,
    running,
    school_to_health_centre,
    send_in_order,
    settings,
    unique,
)

from samverkan.contracts import CloudEvent, topics
from samverkan.directory.app import build
from samverkan.directory.settings import DirectorySettings
from samverkan.runtime.node import Node
from samverkan.runtime.signing import Signer, fingerprint, generate_key

pytestmark = pytest.mark.integration


def function_of(principal: str) -> CloudEvent:
    """An entry of `principal`'s directory: a function (its school nurse)."""
    return school_to_health_centre(principal, unique("region"))[0]


def directory(me: str, dsn: str, kafka: str, **node: Any) -> tuple[Node, FastAPI]:
    # A short retry window: events signed by a refused key wait for it no longer than that.
    config = settings(
        DirectorySettings,
        principal=me,
        dsn=dsn,
        kafka=kafka,
        node=node,
        consumer_retry_window_s=1.0,
    )
    return build(config)


async def announce(kafka: str, *principals: str) -> None:
    """Each principal's self-signed first key, then a function of it, in order on one partition
    (so a later event being applied means every earlier one was decided)."""
    await send_in_order(
        kafka, [e for p in principals for e in (public_key_event(p), function_of(p))]
    )


async def believed(node: Node, principal: str) -> bool:
    return bool(
        await node.pool.fetchval("SELECT count(*) FROM dir_keys WHERE principal = $1", principal)
    )


async def functions(node: Node, principal: str) -> int:
    return int(
        await node.pool.fetchval(
            "SELECT count(*) FROM dir_functions WHERE principal = $1", principal
        )
    )


async def letters_about(kafka: str, node: Node, principal: str, count: int) -> list[str]:
    """The reasons of `node`'s dead letters about `principal`'s first key and its function."""

    def mine(records: list[Any]) -> list[dict[str, Any]]:
        return [
            letter
            for letter in (json.loads(r.value) for r in records)
            if letter["consumer_group"] == node.group and principal in (letter.get("reason") or "")
        ]

    found = await read_topic(kafka, topics.DEAD_LETTER, lambda rs: len(mine(rs)) >= count)
    return [letter["reason"] for letter in sorted(mine(found), key=lambda x: x["offset"])]


async def test_a_pinned_key_is_believed_and_a_key_with_another_fingerprint_is_refused(
    database: str, kafka_bootstrap: str
) -> None:
    me, good, forged = unique("me"), unique("good"), unique("forged")
    # The operator pinned another key for `forged` than the one its announcement carries.
    pinned_elsewhere = fingerprint(Signer(generate_key(), "key-1").public_key_b64())
    node, app = directory(
        me,
        database,
        kafka_bootstrap,
        trusted_keys={good: [key_fingerprint(good)], forged: [pinned_elsewhere]},
    )
    async with running(node, app):
        await announce(kafka_bootstrap, forged, good)
        await eventually("the pinned principal's function", lambda: functions(node, good))
        # Our own directory's key is pinned by holding it, without being listed.
        await eventually("this node's own key", lambda: believed(node, me))
        assert not await believed(node, forged)
        assert await functions(node, forged) == 0, "an event under a refused key was applied"

    reasons = await letters_about(kafka_bootstrap, node, forged, 2)
    assert reasons[0] == (
        f"refused: security: {forged}'s key 'key-1' ({key_fingerprint(forged)}) is not among the "
        "configured fingerprints"
    )
    assert "not known here yet" in reasons[1]  # its function: signed by a key never believed


@pytest.mark.parametrize("trust_unlisted", [False, True])
async def test_a_principal_not_listed_is_refused_unless_unlisted_ones_are_trusted(
    database: str, kafka_bootstrap: str, trust_unlisted: bool
) -> None:
    me, listed, stranger = unique("me"), unique("listed"), unique("stranger")
    node, app = directory(
        me,
        database,
        kafka_bootstrap,
        trusted_keys={listed: [key_fingerprint(listed)]},
        trust_unlisted_first_keys=trust_unlisted,
    )
    async with running(node, app):
        await announce(kafka_bootstrap, stranger, listed)
        await eventually("the listed principal's function", lambda: functions(node, listed))
        assert await believed(node, stranger) is trust_unlisted
        assert await functions(node, stranger) == (1 if trust_unlisted else 0)

    if not trust_unlisted:
        reasons = await letters_about(kafka_bootstrap, node, stranger, 1)
        assert reasons[0].endswith(
            f"is not among the configured fingerprints (none are configured for {stranger})"
        )


async def test_without_trusted_keys_first_keys_are_trusted_on_first_use(
    database: str, kafka_bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    me, newcomer = unique("me"), unique("newcomer")
    with caplog.at_level(logging.WARNING, logger="samverkan.runtime.node"):
        node, app = directory(me, database, kafka_bootstrap)
    warnings = [r.getMessage() for r in caplog.records if r.name == "samverkan.runtime.node"]
    assert any(w.startswith("first keys are trusted on first use") for w in warnings)
    async with running(node, app):
        await announce(kafka_bootstrap, newcomer)
        await eventually("the newcomer's function", lambda: functions(node, newcomer))
        assert await believed(node, newcomer)
