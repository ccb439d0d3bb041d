"""verify names the exact entry of a swapped pair, a flipped bit, and a history rewritten so well
that every row checks out but the witnessed checkpoint does not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from support import audit_entry

from samverkan.audit import merkle, service, store
from samverkan.audit.app import MIGRATIONS
from samverkan.audit.chain import GENESIS, Entry, chain
from samverkan.runtime.db import connect
from samverkan.runtime.migrations import DIRECTORY_VIEW, RUNTIME, migrate

pytestmark = pytest.mark.integration


def _entry(n: int) -> Entry:
    entry: Entry = audit_entry(n, payload_sha256=bytes(32))
    return entry


async def test_swap_flip_and_rewrite_are_found_at_their_index(database: str) -> None:
    await migrate(database, [RUNTIME, DIRECTORY_VIEW, MIGRATIONS])
    conn = await connect(database)
    try:
        for n in range(6):
            async with conn.transaction():
                await store.append(conn, _entry(n))
        leaves = await store.leaf_hashes(conn)
        async with conn.transaction():
            range_ = merkle.compact_range(leaves)
            root = merkle.range_root(range_)
            await store.add_checkpoint(conn, 6, root, "note\n", datetime.now(UTC), range_)
            await store.add_cosignature(conn, 6, "w", "— w x\n", datetime.now(UTC))
        assert (await service.verify(conn)).ok
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")

        # A single flipped bit in entry 4's payload.
        await conn.execute(
            "UPDATE audit_log SET payload = set_byte(payload, 2, get_byte(payload, 2) # 1)"
            " WHERE seq = 4"
        )
        result = await service.verify(conn)
        assert result.first_bad_seq == 4 and "entry 4" in (result.problem or "")
        await conn.execute(
            "UPDATE audit_log SET payload = set_byte(payload, 2, get_byte(payload, 2) # 1)"
            " WHERE seq = 4"
        )
        assert (await service.verify(conn)).ok

        # Entries 2 and 3 swap places.
        await conn.execute("UPDATE audit_log SET seq = -3 WHERE seq = 3")
        await conn.execute("UPDATE audit_log SET seq = 3 WHERE seq = 2")
        await conn.execute("UPDATE audit_log SET seq = 2 WHERE seq = -3")
        assert (await service.verify(conn)).first_bad_seq == 2

        # A rewrite with every leaf, link and seq recomputed: only the witnessed root tells.
        await conn.execute("DELETE FROM audit_log")
        prev = GENESIS
        for n in range(6):
            entry = _entry(n if n != 5 else 50)
            entry = Entry(**{**entry.__dict__, "seq": n})
            leaf = entry.leaf_hash()
            prev = chain(prev, leaf)
            await conn.execute(
                """INSERT INTO audit_log (seq, event_id, topic, kafka_partition, kafka_offset,
                       type, source, source_principal, recipient_principal, subject, legal_basis,
                       event_time, recorded_at, personnummer_pseudonym, headers, payload,
                       leaf_hash, entry_hash, payload_sha256, actor)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                           $16, $17, $18, $19, $20)""",
                n, entry.event_id, entry.topic, entry.partition, entry.offset, entry.type,
                entry.source, entry.source_principal, entry.recipient_principal, entry.subject,
                entry.legal_basis, entry.event_time, entry.recorded_at, None, entry.headers,
                entry.payload, leaf, prev, entry.payload_sha256, None,
            )  # fmt: skip
        result = await service.verify(conn)
        assert not result.ok and result.checkpoint == 6 and result.first_bad_seq == 0
        assert "witnessed checkpoint of size 6" in (result.problem or "")
    finally:
        await conn.close()
