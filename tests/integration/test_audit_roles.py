"""The audit service as a role that may only INSERT and SELECT, over the real Kafka and Postgres:
it records, keeps others' payloads out, answers auditors (logging each query) and exports files
that verify offline and stop verifying when one byte changes."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from pathlib import Path

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
    token,
    unique,
)

from samverkan.audit import exports
from samverkan.audit.app import build, prepare_database
from samverkan.audit.settings import AuditSettings
from samverkan.contracts import CloudEvent
from samverkan.runtime.auth import Role
from samverkan.runtime.settings import KafkaSettings, NodeSettings

pytestmark = pytest.mark.integration


async def _roles(dsn: str) -> tuple[str, str]:
    """An owner of the database and a service role with no rights of its own: their DSNs."""
    base, _, name = dsn.rpartition("/")
    owner, service = f"owner_{secrets.token_hex(3)}", f"svc_{secrets.token_hex(3)}"
    su = await asyncpg.connect(dsn)
    try:
        await su.execute(f"CREATE ROLE {owner} LOGIN; CREATE ROLE {service} LOGIN")
        await su.execute(f'ALTER DATABASE "{name}" OWNER TO {owner}')
    finally:
        await su.close()
    return (
        base.replace("postgres@", f"{owner}@") + f"/{name}",
        base.replace("postgres@", f"{service}@") + f"/{name}",
    )


async def _send(producer: AIOKafkaProducer, event: CloudEvent) -> bytes:
    value = event.value()
    await producer.send_and_wait(event.topic, value, key=event.key(), headers=signed_headers(event))
    return value


async def test_service_role_appends_only_and_exports_verify_offline(
    new_database: Callable[[], str], kafka_bootstrap: str, tmp_path: Path
) -> None:
    owner_dsn, service_dsn = await _roles(new_database())
    me, region = unique("kommun"), unique("region")
    settings = AuditSettings(
        database_url=service_dsn,
        database_owner_url=owner_dsn,
        pseudonym_key="pseudonym-key-for-tests",
        checkpoint_interval_s=0.2,
        outbox_poll_interval_s=0.1,
        node=NodeSettings(principal=me, auth_jwt_key=SECRET, signing_key=signing_key(me)),
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap),
    )
    node, app = build(settings)
    await prepare_database(settings, node)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    async with running(node, app) as client:
        other = unique("a")
        await seed_keys(node, me, region, other)
        mine, theirs = referral_sent(me, region), referral_sent(other, unique("b"))
        await _send(producer, mine)
        their_value = await _send(producer, theirs)
        await producer.stop()

        async def recorded() -> list[asyncpg.Record] | None:
            found = await node.pool.fetch(
                "SELECT * FROM audit_log WHERE event_id = ANY($1)", [mine.id, theirs.id]
            )
            return found if len(found) == 2 else None

        rows = {r["event_id"]: r for r in await eventually("both events recorded", recorded)}
        assert rows[mine.id]["payload"] == mine.value()
        assert rows[mine.id]["personnummer_pseudonym"] is not None
        assert (
            rows[theirs.id]["payload"] is None and rows[theirs.id]["personnummer_pseudonym"] is None
        )
        assert bytes(rows[theirs.id]["payload_sha256"]) == hashlib.sha256(their_value).digest()

        auditor = token(me, None, Role.AUDITOR)
        found = await client.post(
            "/audit/search", json={"personnummer": "20120315-1236"}, headers=auditor
        )
        assert found.status_code == 200, found.text
        assert [e["event_id"] for e in found.json()] == [str(mine.id)]  # not the others' flow
        by_type = await client.get(
            "/audit/entries",
            params={"type": mine.type, "source": theirs.sourceprincipal},
            headers=auditor,
        )
        assert by_type.json() == []  # the others' events are not shown to this principal's auditors
        logged = await node.pool.fetch(
            "SELECT payload FROM audit_log WHERE type = 'se.samverkan.audit.access-logged.v1'"
        )
        assert len(logged) == 2 and all(b"20120315" not in bytes(r["payload"]) for r in logged)

        for fmt in exports.FORMATS:
            response = await client.post(
                "/audit/export", json={"subject": mine.subject, "format": fmt}, headers=auditor
            )
            assert response.status_code == 200, response.text
            text = response.text
            assert exports.verify(text).entries == 1
            file = tmp_path / f"export.{fmt}"
            file.write_text(text, newline="")
            assert exports.main([str(file)]) == 0
            for at in (len(text) // 3, len(text) // 2, len(text) - 10):
                changed = text[:at] + ("0" if text[at] != "0" else "1") + text[at + 1 :]
                with pytest.raises(exports.ExportInvalid):
                    exports.verify(changed)
            file.write_text(text.replace(str(mine.subject), str(theirs.subject), 1), newline="")
            assert exports.main([str(file)]) == 1

        head = (await client.get("/audit/checkpoint", headers=auditor)).json()
        size = head["tree_size"]
        proof = (
            await client.get(
                "/audit/proofs/inclusion", params={"index": 0, "tree_size": size}, headers=auditor
            )
        ).json()
        assert proof["tree_size"] == size and proof["proof"]
        verified = (await client.get("/audit/verify", headers=auditor)).json()
        assert verified["ok"] is True
        # The service role, with SELECT only, can still confirm the leaf check and rely on it.
        assert verified["leaf_check"] is True and verified["rebuilt"] == 0
        full = (await client.get("/audit/verify?full=true", headers=auditor)).json()
        assert full["ok"] is True and full["rebuilt"] == full["entries"] > 0

    owner = await asyncpg.connect(owner_dsn)
    service = await asyncpg.connect(service_dsn)
    try:
        # The owner switches every guard off; the service role is refused all the same.
        await owner.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        for statement in (
            "UPDATE audit_log SET payload = NULL WHERE seq = 0",
            "DELETE FROM audit_log WHERE seq = 0",
            "TRUNCATE audit_log",
            "DELETE FROM audit_checkpoints",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await service.execute(statement)
        assert await service.fetchval("SELECT count(*) FROM audit_log") >= 4
    finally:
        await owner.close()
        await service.close()
