"""Audit events: signed and witnessed checkpoints of each audit log, and logged accesses.

A checkpoint commits a principal to its log's size and Merkle root (RFC 6962). Other principals'
audit services witness it, so no principal can rewrite its own history unnoticed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import Field

from samverkan.contracts import topics
from samverkan.contracts.events import Event
from samverkan.contracts.parties import FunctionRef
from samverkan.contracts.values import Ed25519Signature, PersonId, Sha256Hex, ShortText, Slug


class _Checkpoint(Event):
    TOPIC = topics.AUDIT
    KEY = "log:{principal}"  # every checkpoint of one log, and its witnesses, in order


class CheckpointSigned(_Checkpoint):
    """Emitted periodically by a principal's audit service: the tree size and root hash of its
    audit log, signed with the principal's key (see directory.public-key-published)."""

    TYPE = "se.samverkan.audit.checkpoint-signed.v1"

    principal: Slug
    tree_size: int = Field(ge=0)
    root_hash: Sha256Hex
    key_id: Slug
    signature: Ed25519Signature = Field(
        description="Ed25519 over the checkpoint's note text (c2sp.org/tlog-checkpoint): the "
        "origin, the tree size and the base64 root hash, one per line."
    )
    signed_at: datetime
    origin: ShortText | None = Field(
        default=None,
        description="The checkpoint's origin line and signing key name, "
        "'samverkan/audit/<principal>' (c2sp.org/signed-note).",
    )
    previous_size: int | None = Field(
        default=None, ge=0, description="Tree size of this log's previous signed checkpoint."
    )
    consistency_proof: list[Sha256Hex] = Field(
        default_factory=list,
        description="RFC 6962 consistency proof from the previous checkpoint to this one, so a "
        "witness that saw the previous one can check that nothing was rewritten.",
    )


class CheckpointWitnessed(_Checkpoint):
    """Emitted by another principal's audit service when it has verified a checkpoint's signature
    and its consistency with the previous checkpoint it saw of the same log, and cosigns it."""

    TYPE = "se.samverkan.audit.checkpoint-witnessed.v1"

    principal: Slug = Field(description="Whose log the checkpoint is of.")
    tree_size: int = Field(ge=0)
    root_hash: Sha256Hex
    witness: Slug = Field(description="The principal that verified and cosigned.")
    witness_key_id: Slug
    cosignature: Ed25519Signature = Field(
        description="c2sp.org/tlog-cosignature Ed25519 cosignature over 'cosignature/v1', "
        "'time <witnessed_at as POSIX seconds>' and the checkpoint's note text."
    )
    witnessed_at: datetime
    origin: ShortText | None = Field(default=None, description="The checkpoint's origin line.")


class CheckpointInconsistent(_Checkpoint):
    """Emitted by a witness when a principal's signed checkpoint contradicts an earlier one it saw
    of the same log (a fork, a rollback or a bad consistency proof): an alert for people."""

    TYPE = "se.samverkan.audit.checkpoint-inconsistent.v1"

    principal: Slug = Field(description="Whose log the checkpoint is of.")
    tree_size: int = Field(ge=0)
    root_hash: Sha256Hex
    previous_size: int = Field(ge=0, description="The size of the last checkpoint it accepted.")
    previous_root_hash: Sha256Hex
    witness: Slug = Field(description="The principal that found the inconsistency.")
    reason: ShortText
    detected_at: datetime


class AccessAction(StrEnum):
    READ = "read"
    EXPORT = "export"
    PRINT = "print"


class AccessLogged(Event):
    """Emitted by a service when a person accessed personal data about a child, so that every
    access can be logged and followed up (Patientdatalagen 4 kap.). Names no child: the resource
    id is enough for the principal's own audit to find it."""

    TYPE = "se.samverkan.audit.access-logged.v1"
    TOPIC = topics.AUDIT
    KEY = "{resource_id}"

    access_id: UUID
    accessed_by: PersonId
    function: FunctionRef
    action: AccessAction
    resource_type: ShortText = Field(description="E.g. referral, consent, concern-report.")
    resource_id: UUID
    accessed_at: datetime
    query: str | None = Field(
        default=None,
        max_length=2000,
        description="For an auditor's search or export of the audit trail: its criteria, with "
        "any personnummer replaced by its keyed pseudonym.",
    )
