"""Two principals' audit services witness each other's checkpoints over the real Kafka, and a
forked checkpoint is caught and alerted."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from support import (
    SECRET,
    eventually,
    referral_sent,
    running,
    seed_keys,
    signed_headers,
    signing_key,
    unique,
)

from samverkan.audit import service
from samverkan.audit.app import build
from samverkan.audit.note import Checkpoint, NoteSigner, log_origin
from samverkan.audit.settings import AuditSettings
from samverkan.contracts import CloudEvent
from samverkan.contracts.audit import CheckpointInconsistent, CheckpointSigned
from samverkan.runtime.settings import KafkaSettings, NodeSettings

pytestmark = pytest.mark.integration


async def test_witnesses_cosign_each_other_and_alert_on_a_fork(
    new_database: Callable[[], str], kafka_bootstrap: str
) -> None:
    a, b = unique("kommun"), unique("region")
    private = {a: signing_key(a), b: signing_key(b)}
    public = {p: base64.b64encode(NoteSigner(k).public_key).decode() for p, k in private.items()}

    # Seeded the way the directory view will answer once it carries public keys.
    async def keys(
        conn: asyncpg.Connection, principal: str, key_id: str, at: datetime
    ) -> str | None:
        return public.get(principal) if key_id == "key-1" else None

    def node_of(principal: str):  # type: ignore[no-untyped-def]
        return build(
            AuditSettings(
                database_url=new_database(),
                pseudonym_key=f"pseudonym-key-{principal}",
                checkpoint_interval_s=0.2,
                outbox_poll_interval_s=0.1,
                node=NodeSettings(
                    principal=principal, auth_jwt_key=SECRET, signing_key=private[principal]
                ),
                kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
            ),
            keys=keys,
        )

    (node_a, app_a), (node_b, app_b) = node_of(a), node_of(b)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with running(node_a, app_a), running(node_b, app_b):
            await seed_keys(node_a, a, b)
            await seed_keys(node_b, a, b)
            event = referral_sent(a, b)
            await producer.send_and_wait(
                event.topic, event.value(), key=event.key(), headers=signed_headers(event)
            )

            async def cosigned(node, by: str) -> asyncpg.Record | None:  # type: ignore[no-untyped-def]
                return await node.pool.fetchrow(
                    "SELECT * FROM audit_cosignatures WHERE witness = $1 ORDER BY tree_size DESC",
                    by,
                )

            await eventually("b to cosign a's checkpoint", lambda: cosigned(node_a, b))
            await eventually("a to cosign b's checkpoint", lambda: cosigned(node_b, a))
            async with node_a.pool.acquire() as conn:
                verified = await service.verify(conn)
            assert verified.ok and verified.checkpoint is not None

            seen = await node_b.pool.fetchrow(
                "SELECT * FROM audit_witnessed WHERE principal = $1 ORDER BY id DESC", a
            )
            # a signs a second history of the same size: a fork only a witness can catch.
            forged_root = hashlib.sha256(b"rewritten history").digest()
            body = Checkpoint(log_origin(a), seen["tree_size"], forged_root).body()
            signature = NoteSigner(private[a]).sign(log_origin(a), body)
            fork = CloudEvent.wrap(
                CheckpointSigned(
                    principal=a,
                    tree_size=seen["tree_size"],
                    root_hash=forged_root.hex(),
                    key_id="key-1",
                    signature=base64.b64encode(signature.value).decode(),
                    signed_at=datetime.now(UTC),
                    origin=log_origin(a),
                    previous_size=seen["tree_size"],
                ),
                principal=a,
                service="audit",
            )
            await producer.send_and_wait(
                fork.topic, fork.value(), key=fork.key(), headers=signed_headers(fork)
            )

            async def alerted() -> asyncpg.Record | None:
                return await node_a.pool.fetchrow(
                    "SELECT payload FROM audit_log WHERE type = $1", CheckpointInconsistent.TYPE
                )

            alert = CheckpointInconsistent.model_validate_json(
                bytes((await eventually("b's alert about a's fork", alerted))["payload"])
            )
            assert alert.witness == b and alert.principal == a
            assert alert.root_hash == forged_root.hex() and "different roots" in alert.reason
            # The forged head was not accepted: b still holds a's real one.
            latest = await node_b.pool.fetchrow(
                "SELECT * FROM audit_witnessed WHERE principal = $1 ORDER BY id DESC", a
            )
            assert bytes(latest["root_hash"]) != forged_root
    finally:
        await producer.stop()
