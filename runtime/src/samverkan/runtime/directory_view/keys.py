"""Every principal's signing public keys, as its directory published and revoked them."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from samverkan.contracts.directory import KeyRevocationReason

# `valid_from` is not checked: a node's other services may sign with a new key a moment before
# their directory announces it, and nobody but the key holder can sign with it anyway.
_TRUSTED_AT = f"""SELECT public_key FROM dir_keys
    WHERE principal = $1 AND key_id = $2 AND public_key IS NOT NULL
      AND (revoked_at IS NULL OR $3 < revoked_at)
      AND (valid_to IS NULL OR $3 <= valid_to)
      AND (reason IS DISTINCT FROM '{KeyRevocationReason.COMPROMISED.value}'
           OR (compromised_since IS NOT NULL AND $3 < compromised_since))"""


async def key(conn: asyncpg.Connection, principal: str, key_id: str, at: datetime) -> str | None:
    """The base64 Ed25519 public key `principal` published as `key_id`, if it may have signed at
    `at`: published, not revoked by then, and not compromised by then (a compromised key whose
    compromise time is unknown is trusted at no time). None otherwise."""
    return await conn.fetchval(_TRUSTED_AT, principal, key_id, at)


async def known(conn: asyncpg.Connection, principal: str, key_id: str | None = None) -> bool:
    """Whether this node knows any key of `principal` (or that key id), valid or not."""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM dir_keys WHERE principal = $1 AND public_key IS NOT NULL"
            " AND ($2::text IS NULL OR key_id = $2))",
            principal,
            key_id,
        )
    )
