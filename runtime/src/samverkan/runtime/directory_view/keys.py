"""Every principal's signing public keys, as its directory published and revoked them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from samverkan.contracts.directory import KeyRevocationReason

# `valid_from` is not checked: a node's other services may sign with a new key a moment before
# their directory announces it, and nobody but the key holder can sign with it anyway.
_TRUSTED = f"""public_key IS NOT NULL
      AND (revoked_at IS NULL OR {{at}} < revoked_at)
      AND (valid_to IS NULL OR {{at}} <= valid_to)
      AND (reason IS DISTINCT FROM '{KeyRevocationReason.COMPROMISED.value}'
           OR (compromised_since IS NOT NULL AND {{at}} < compromised_since))"""

_TRUSTED_AT = "SELECT public_key FROM dir_keys WHERE principal = $1 AND key_id = $2 AND " + (
    _TRUSTED.format(at="$3")
)
_TRUSTED_AT_EACH = f"""SELECT k.public_key
    FROM unnest($1::text[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS q(p, id, at, n)
    LEFT JOIN dir_keys k ON k.principal = q.p AND k.key_id = q.id AND {_TRUSTED.format(at="q.at")}
    ORDER BY q.n"""


async def key(conn: asyncpg.Connection, principal: str, key_id: str, at: datetime) -> str | None:
    """The base64 Ed25519 public key `principal` published as `key_id`, if it may have signed at
    `at`: published, not revoked by then, and not compromised by then (a compromised key whose
    compromise time is unknown is trusted at no time). None otherwise."""
    return await conn.fetchval(_TRUSTED_AT, principal, key_id, at)


async def keys(
    conn: asyncpg.Connection, wanted: Sequence[tuple[str, str, datetime]]
) -> list[str | None]:
    """`key` for each (principal, key id, time) of `wanted`, in one query."""
    if not wanted:
        return []
    principals, key_ids, times = zip(*wanted, strict=True)
    found = await conn.fetch(_TRUSTED_AT_EACH, list(principals), list(key_ids), list(times))
    return [row["public_key"] for row in found]


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
