"""The hash chain: how an entry's bytes and hashes are computed. Pure, shared by append and verify."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

GENESIS = bytes(32)


@dataclass(frozen=True)
class Entry:
    """One audit entry. Every field is covered by its leaf hash, index fields included."""

    seq: int
    event_id: UUID
    topic: str
    partition: int
    offset: int
    type: str
    source: str
    source_principal: str
    recipient_principal: str | None
    subject: str | None
    legal_basis: str
    event_time: datetime
    recorded_at: datetime
    personnummer_pseudonym: str | None
    headers: list[list[str]]
    payload: bytes

    def leaf_bytes(self) -> bytes:
        """Canonical bytes: sorted-key compact JSON; times in ISO 8601, the payload in hex."""
        fields: dict[str, Any] = asdict(self)
        fields.update(
            event_id=str(self.event_id),
            event_time=_utc(self.event_time),
            recorded_at=_utc(self.recorded_at),
            payload=self.payload.hex(),
        )
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def leaf_hash(self) -> bytes:
        # RFC 6962 leaf prefix 0x00, so the same leaves can later form a Merkle tree.
        return hashlib.sha256(b"\x00" + self.leaf_bytes()).digest()

    @classmethod
    def from_row(cls, row: Any) -> Entry:
        return cls(
            seq=row["seq"],
            event_id=row["event_id"],
            topic=row["topic"],
            partition=row["kafka_partition"],
            offset=row["kafka_offset"],
            type=row["type"],
            source=row["source"],
            source_principal=row["source_principal"],
            recipient_principal=row["recipient_principal"],
            subject=row["subject"],
            legal_basis=row["legal_basis"],
            event_time=row["event_time"],
            recorded_at=row["recorded_at"],
            personnummer_pseudonym=row["personnummer_pseudonym"],
            headers=row["headers"],
            payload=bytes(row["payload"]),
        )


def _utc(moment: datetime) -> str:
    """One spelling per instant: Postgres hands times back in UTC, whatever offset came in."""
    if moment.tzinfo is None:
        raise ValueError("audit times must carry a UTC offset")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def chain(prev_hash: bytes, leaf_hash: bytes) -> bytes:
    return hashlib.sha256(prev_hash + leaf_hash).digest()


def pseudonym(key: bytes, personnummer: str) -> str:
    """A keyed pseudonym: one child, one value here; nobody without the key can reverse it."""
    return hmac.new(key, personnummer.encode(), hashlib.sha256).hexdigest()
