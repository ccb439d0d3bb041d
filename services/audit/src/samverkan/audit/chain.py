"""Audit entries: their canonical leaf bytes, hashes and the pseudonym. Pure, shared by all."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from samverkan.audit import merkle

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
    payload: bytes | None  # None when the event was between two other principals
    payload_sha256: bytes | None = None
    actor: str | None = None

    def leaf_fields(self, seq: int | None = None) -> dict[str, Any]:
        """The leaf as JSON-ready fields: times in ISO 8601 UTC, bytes in hex. `seq`: the place
        the entry is being appended at, when not yet its own."""
        # A shallow copy, not dataclasses.asdict: asdict deep-copies every value, and that copy
        # was three quarters of the verify command's time. The headers list is only read.
        fields: dict[str, Any] = self.__dict__.copy()
        fields.update(
            seq=self.seq if seq is None else seq,
            event_id=str(self.event_id),
            event_time=_utc(self.event_time),
            recorded_at=_utc(self.recorded_at),
            payload=None if self.payload is None else self.payload.hex(),
            payload_sha256=None if self.payload_sha256 is None else self.payload_sha256.hex(),
        )
        # Fields added after the first entries were written stay out when absent, so those
        # entries keep their leaf.
        for late in ("payload_sha256", "actor"):
            if fields[late] is None:
                del fields[late]
        return fields

    def leaf_bytes(self, seq: int | None = None) -> bytes:
        """Canonical bytes: sorted-key compact JSON of `leaf_fields`."""
        return _leaf_json(self.leaf_fields(seq))

    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(self.leaf_bytes())

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
            payload=None if row["payload"] is None else bytes(row["payload"]),
            payload_sha256=None if row["payload_sha256"] is None else bytes(row["payload_sha256"]),
            actor=row["actor"],
        )


def _utc(moment: datetime) -> str:
    """One spelling per instant: Postgres hands times back in UTC, whatever offset came in."""
    if moment.tzinfo is None:
        raise ValueError("audit times must carry a UTC offset")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(fields: Any) -> bytes:
    """Sorted-key compact JSON in ASCII, non-ASCII and control characters escaped: the bytes of
    every leaf ever written, which its hashes, `verify --full` and outside verifiers rebuild."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def _leaf_json(fields: dict[str, Any]) -> bytes:
    """`canonical_json` of a leaf's fields, ten times faster for nearly every leaf: orjson writes
    the same bytes for strings, integers, booleans, null, lists and dicts when there is nothing
    to escape. A leaf holds nothing else (no floats: orjson spells them differently)."""
    try:
        data = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, say, which json does write
        pass
    else:
        # json escapes DEL as well, which is ASCII.
        if data.isascii() and b"\\" not in data and b"\x7f" not in data:
            return data
    return canonical_json(fields)


def chain(prev_hash: bytes, leaf_hash: bytes) -> bytes:
    return hashlib.sha256(prev_hash + leaf_hash).digest()


def chain_links(prev_hash: bytes, leaf_hashes: Iterable[bytes]) -> list[bytes]:
    """The entry hashes of `leaf_hashes` appended one after another to `prev_hash`."""
    links, sha256 = [], hashlib.sha256
    for leaf_hash in leaf_hashes:
        prev_hash = sha256(prev_hash + leaf_hash).digest()
        links.append(prev_hash)
    return links


def pseudonym(key: bytes, personnummer: str) -> str:
    """A keyed pseudonym: one child, one value here; nobody without the key can reverse it."""
    return hmac.new(key, personnummer.encode(), hashlib.sha256).hexdigest()
