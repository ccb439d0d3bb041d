"""Witnessing other principals' logs: verify each signed checkpoint, cosign it or raise the alarm."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime

from samverkan.audit import store
from samverkan.audit.context import AuditContext
from samverkan.audit.note import (
    ED25519,
    Checkpoint,
    Signature,
    SignedNote,
    key_id,
    log_origin,
    verify_signature,
    witness_name,
)
from samverkan.audit.witness import TreeHead, Verdict, judge
from samverkan.contracts import CloudEvent
from samverkan.contracts.audit import CheckpointInconsistent, CheckpointSigned, CheckpointWitnessed
from samverkan.runtime.db import UnitOfWork

log = logging.getLogger(__name__)


async def witness(tx: UnitOfWork, ctx: AuditContext, event: CloudEvent) -> Verdict | None:
    """Judge another principal's checkpoint; cosign it, or publish an alert if it is a fork."""
    data = event.data
    assert isinstance(data, CheckpointSigned)
    if data.principal == ctx.principal or data.principal != event.sourceprincipal:
        return None  # our own, or a principal signing for another: not a checkpoint to witness
    if ctx.signer is None or ctx.keys is None:
        return None
    origin = data.origin or log_origin(data.principal)
    head = Checkpoint(origin, data.tree_size, bytes.fromhex(data.root_hash))
    public = await ctx.keys(tx.conn, data.principal, data.key_id, data.signed_at)
    if public is None:
        log.warning("no public key %s of %s: checkpoint not witnessed", data.key_id, data.principal)
        return None
    public_key = base64.b64decode(public)
    signature = Signature(
        origin, key_id(origin, ED25519, public_key), base64.b64decode(data.signature)
    )
    if not verify_signature(SignedNote(head.body(), (signature,)), origin, public_key):
        log.warning("checkpoint of %s does not verify under its key: ignored", data.principal)
        return None
    row = await store.last_witnessed(tx.conn, data.principal)
    last = TreeHead(row["tree_size"], bytes(row["root_hash"])) if row else None
    proof = [bytes.fromhex(p) for p in data.consistency_proof]
    judgement = judge(last, TreeHead(head.size, head.root), data.previous_size, proof)
    now = datetime.now(UTC).replace(microsecond=0)
    if judgement.verdict is Verdict.INCONSISTENT:
        assert last is not None
        log.error("checkpoint of %s is inconsistent: %s", data.principal, judgement.reason)
        await tx.publish(
            ctx.wrap(
                CheckpointInconsistent(
                    principal=data.principal,
                    tree_size=head.size,
                    root_hash=data.root_hash,
                    previous_size=last.size,
                    previous_root_hash=last.root.hex(),
                    witness=ctx.principal,
                    reason=judgement.reason,
                    detected_at=now,
                ),
                recipient=data.principal,
            )
        )
    elif judgement.verdict is Verdict.GAP:
        log.warning("checkpoint of %s not witnessed: %s", data.principal, judgement.reason)
    elif judgement.verdict is Verdict.COSIGN:
        await store.add_witnessed(tx.conn, data.principal, origin, head.size, head.root, now)
        cosignature = ctx.signer.cosign(
            witness_name(ctx.principal), head.body(), int(now.timestamp())
        )
        await tx.publish(
            ctx.wrap(
                CheckpointWitnessed(
                    principal=data.principal,
                    tree_size=head.size,
                    root_hash=data.root_hash,
                    witness=ctx.principal,
                    witness_key_id=ctx.key_id,
                    cosignature=base64.b64encode(cosignature.value[8:]).decode(),
                    witnessed_at=now,
                    origin=origin,
                ),
                recipient=data.principal,
            )
        )
    return judgement.verdict
