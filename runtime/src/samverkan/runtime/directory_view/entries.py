"""Applying directory events to the read model: upserts, tombstones for retirements, and keys."""

from __future__ import annotations

from datetime import datetime

from samverkan.contracts import CloudEvent
from samverkan.contracts.directory import (
    FormalisedContactPublished,
    FormalisedContactRetired,
    FunctionPublished,
    FunctionRetired,
    KeyRevocationReason,
    PrincipalPublished,
    PrincipalRetired,
    PublicKeyPublished,
    PublicKeyRevoked,
    UnitPublished,
    UnitRetired,
)
from samverkan.runtime.consumer import Refused
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.directory_view.routing import HELD, forget

DIRECTORY_EVENTS = (
    PrincipalPublished,
    PrincipalRetired,
    UnitPublished,
    UnitRetired,
    FunctionPublished,
    FunctionRetired,
    FormalisedContactPublished,
    FormalisedContactRetired,
    PublicKeyPublished,
    PublicKeyRevoked,
)

_COMPROMISED = KeyRevocationReason.COMPROMISED.value


async def apply(tx: UnitOfWork, event: CloudEvent) -> None:
    """Apply one directory entry to the read model (a consumer handler).

    A publication upserts its entry (and revives a retired one: the id is taken into use again);
    a retirement leaves a tombstone, so routing can say what was retired and when.
    """
    data = event.data
    if getattr(data, "principal", None) != event.sourceprincipal:
        raise Refused("a principal may only publish its own directory entries")
    forget(tx)
    match data:
        case PrincipalPublished():
            await tx.write_held(
                HELD,
                """INSERT INTO dir_principals (principal, name, kind, organisation_number)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (principal) DO UPDATE SET name = $2, kind = $3,
                     organisation_number = $4, retired_at = NULL""",
                data.principal,
                data.name,
                data.kind.value,
                data.organisation_number,
            )
        case UnitPublished():
            await tx.write_held(
                HELD,
                """INSERT INTO dir_units (principal, unit, name, kind, hsa_id, area, uph_assignment)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (principal, unit) DO UPDATE SET name = $3, kind = $4, hsa_id = $5,
                     area = $6, uph_assignment = $7, retired_at = NULL""",
                data.principal,
                data.unit,
                data.name,
                data.kind.value,
                data.hsa_id,
                data.area,
                data.uph_assignment,
            )
        case FunctionPublished():
            await tx.write_held(
                HELD,
                """INSERT INTO dir_functions (principal, function, name, unit, unit_name,
                     unit_kind, mailbox, valid_from, valid_to)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT (principal, function) DO UPDATE SET name = $3, unit = $4,
                     unit_name = $5, unit_kind = $6, mailbox = $7, valid_from = $8, valid_to = $9,
                     retired_at = NULL""",
                data.principal,
                data.function,
                data.name,
                data.unit,
                data.unit_name,
                data.unit_kind.value,
                data.mailbox,
                data.valid_from,
                data.valid_to,
            )
        case FormalisedContactPublished():
            await tx.write_held(
                HELD,
                """INSERT INTO dir_contacts (principal, contact, function, counterpart_principal,
                     counterpart_function, need, valid_from, valid_to)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                   ON CONFLICT (principal, contact) DO UPDATE SET function = $3,
                     counterpart_principal = $4, counterpart_function = $5, need = $6,
                     valid_from = $7, valid_to = $8, retired_at = NULL""",
                data.principal,
                data.contact,
                data.function,
                data.counterpart_principal,
                data.counterpart_function,
                data.need.value,
                data.valid_from,
                data.valid_to,
            )
        case PrincipalRetired():
            await _retire(tx, "dir_principals", "principal", data.principal, None, data.retired_at)
        case UnitRetired():
            await _retire(tx, "dir_units", "unit", data.principal, data.unit, data.retired_at)
        case FunctionRetired():
            await _retire(
                tx, "dir_functions", "function", data.principal, data.function, data.retired_at
            )
        case FormalisedContactRetired():
            await _retire(
                tx, "dir_contacts", "contact", data.principal, data.contact, data.retired_at
            )
        case PublicKeyPublished():
            await _publish_key(tx, data)
        case PublicKeyRevoked():
            await _revoke_key(tx, data)


async def _retire(
    tx: UnitOfWork,
    table: str,
    column: str,
    principal: str,
    entry: str | None,
    retired_at: datetime,
) -> None:
    if entry is None:
        await tx.write_held(
            HELD,
            f"""INSERT INTO {table} (principal, retired_at) VALUES ($1, $2)
                ON CONFLICT (principal) DO UPDATE SET retired_at = $2""",
            principal,
            retired_at,
        )
        return
    await tx.write_held(
        HELD,
        f"""INSERT INTO {table} (principal, {column}, retired_at) VALUES ($1, $2, $3)
            ON CONFLICT (principal, {column}) DO UPDATE SET retired_at = $3""",
        principal,
        entry,
        retired_at,
    )


async def _publish_key(tx: UnitOfWork, data: PublicKeyPublished) -> None:
    known = await tx.conn.fetchval(
        "SELECT public_key FROM dir_keys WHERE principal = $1 AND key_id = $2",
        data.principal,
        data.key_id,
    )
    if known is not None and known != data.public_key:
        raise Refused(
            f"key id {data.principal}/{data.key_id} already names another public key;"
            " a key id is never reused"
        )
    # A revocation already seen (even one that arrived first) stays: nothing un-revokes a key.
    await tx.conn.execute(
        """INSERT INTO dir_keys (principal, key_id, algorithm, public_key, valid_from, valid_to)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (principal, key_id) DO UPDATE SET algorithm = $3, public_key = $4,
             valid_from = $5, valid_to = $6""",
        data.principal,
        data.key_id,
        data.algorithm,
        data.public_key,
        data.valid_from,
        data.valid_to,
    )


async def _revoke_key(tx: UnitOfWork, data: PublicKeyRevoked) -> None:
    # Revocations only tighten: the earliest revocation time wins, and once compromised the key
    # stays compromised from the earliest known moment (NULL: from the start, time unknown).
    await tx.conn.execute(
        f"""INSERT INTO dir_keys (principal, key_id, revoked_at, reason, compromised_since)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (principal, key_id) DO UPDATE SET
             revoked_at = LEAST(dir_keys.revoked_at, EXCLUDED.revoked_at),
             reason = CASE WHEN '{_COMPROMISED}' IN (dir_keys.reason, EXCLUDED.reason)
                           THEN '{_COMPROMISED}' ELSE EXCLUDED.reason END,
             compromised_since = CASE
               WHEN (dir_keys.reason = '{_COMPROMISED}' AND dir_keys.compromised_since IS NULL)
                 OR (EXCLUDED.reason = '{_COMPROMISED}' AND EXCLUDED.compromised_since IS NULL)
               THEN NULL
               ELSE LEAST(dir_keys.compromised_since, EXCLUDED.compromised_since) END""",
        data.principal,
        data.key_id,
        data.revoked_at,
        data.reason.value,
        data.compromised_since,
    )
