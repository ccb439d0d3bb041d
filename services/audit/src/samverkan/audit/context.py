"""What the audit use cases need to know about this node: who it is and which keys it holds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from samverkan.audit.note import NoteSigner, log_origin
from samverkan.contracts import CloudEvent

# (conn, principal, key id, at) → that principal's Ed25519 public key (base64), if known.
KeyLookup = Callable[[asyncpg.Connection, str, str, datetime], Awaitable[str | None]]


@dataclass(frozen=True)
class AuditContext:
    principal: str
    pseudonym_key: bytes
    wrap: Callable[..., CloudEvent]  # (payload, recipient=…) → this service's envelope
    signer: NoteSigner | None = None  # without a signing key: no checkpoints, no cosignatures
    key_id: str = "key-1"
    keys: KeyLookup | None = None  # without a key directory: no witnessing

    @property
    def origin(self) -> str:
        return log_origin(self.principal)
