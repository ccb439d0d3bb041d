"""Signed checkpoints of this node's log, and the cosignatures witnesses send back."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime

import asyncpg

from samverkan.audit import merkle, store
from samverkan.audit.context import AuditContext
from samverkan.audit.note import (
    COSIGNATURE,
    Checkpoint,
    Signature,
    SignedNote,
    key_id,
    verify_cosignature,
    witness_name,
)
from samverkan.contracts import CloudEvent
from samverkan.contracts.audit import CheckpointInconsistent, CheckpointSigned, CheckpointWitnessed
from samverkan.runtime.db import UnitOfWork

log = logging.getLogger(__name__)

# Checkpoint traffic alone does not call for a new checkpoint, or two logs would ping-pong.
QUIET_TYPES = (CheckpointSigned.TYPE, CheckpointWitnessed.TYPE, CheckpointInconsistent.TYPE)


async def make(tx: UnitOfWork, ctx: AuditContext, *, force: bool = False) -> int | None:
    """Sign and publish a checkpoint of the whole log if entries arrived since the last one;
    return its tree size (or the last one's, when nothing new arrived and `force` is off)."""
    if ctx.signer is None:
        return None
    conn = tx.conn
    await store.lock_checkpoints(conn)
    last = await store.latest_checkpoint(conn)
    previous = last["tree_size"] if last else 0
    size = await store.size(conn)
    if size == previous or not (force or await store.has_news(conn, previous, QUIET_TYPES)):
        return previous if last else None
    kept: list[bytes] | None = last["compact_range"] if last else []
    if (
        last is not None
        and kept is not None
        and merkle.range_root(kept) != bytes(last["root_hash"])
    ):
        log.error("checkpoint %d's compact range does not give its root", previous)
        kept = None
    if kept is None:  # signed before compact ranges were kept, or kept wrong: read the log once
        leaves = await store.leaf_hashes(conn)
        kept, new = merkle.compact_range(leaves[:previous]), leaves[previous:]
    else:
        new = await store.leaf_hashes(conn, start=previous)
    range_ = merkle.extend(kept, previous, new)
    proof = merkle.consistency_proof_extending(previous, kept, new)
    head = Checkpoint(ctx.origin, previous + len(new), merkle.range_root(range_))
    body = head.body()
    signature = ctx.signer.sign(ctx.origin, body)
    signed_at = datetime.now(UTC)
    await store.add_checkpoint(
        conn, head.size, head.root, SignedNote(body, (signature,)).format(), signed_at, range_
    )
    await tx.publish(
        ctx.wrap(
            CheckpointSigned(
                principal=ctx.principal,
                tree_size=head.size,
                root_hash=head.root.hex(),
                key_id=ctx.key_id,
                signature=base64.b64encode(signature.value).decode(),
                signed_at=signed_at,
                origin=ctx.origin,
                previous_size=previous if last else None,
                consistency_proof=[p.hex() for p in proof],
            )
        )
    )
    log.info("signed checkpoint of %d entries", head.size)
    return head.size


async def receive_cosignature(tx: UnitOfWork, ctx: AuditContext, event: CloudEvent) -> None:
    """Keep a witness's cosignature of one of our checkpoints once it verifies."""
    data = event.data
    assert isinstance(data, CheckpointWitnessed)
    if data.witness != event.sourceprincipal or ctx.keys is None:
        return
    row = await store.checkpoint(tx.conn, data.tree_size)
    if row is None or bytes(row["root_hash"]).hex() != data.root_hash:
        log.warning(
            "%s cosigned a checkpoint of size %d this log never signed",
            data.witness,
            data.tree_size,
        )
        return
    public = await ctx.keys(tx.conn, data.witness, data.witness_key_id, data.witnessed_at)
    if public is None:
        log.warning(
            "no public key %s of %s: cosignature not kept", data.witness_key_id, data.witness
        )
        return
    public_key = base64.b64decode(public)
    name = witness_name(data.witness)
    timestamp = int(data.witnessed_at.timestamp())
    cosignature = Signature(
        name,
        key_id(name, COSIGNATURE, public_key),
        timestamp.to_bytes(8, "big") + base64.b64decode(data.cosignature),
    )
    note = SignedNote(SignedNote.parse(row["note"]).text, (cosignature,))
    if verify_cosignature(note, name, public_key) is None:
        log.warning("cosignature by %s of size %d does not verify", data.witness, data.tree_size)
        return
    await store.add_cosignature(
        tx.conn, data.tree_size, data.witness, cosignature.line(), data.witnessed_at
    )


async def signed_note(conn: asyncpg.Connection, size: int) -> str | None:
    """The checkpoint of `size` with every cosignature it has, as one signed note."""
    row = await store.checkpoint(conn, size)
    if row is None:
        return None
    return row["note"] + "".join(await store.cosignature_lines(conn, size))
