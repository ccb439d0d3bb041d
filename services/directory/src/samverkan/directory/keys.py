"""This principal's signing keys: publish the configured one, supersede older ones, revoke.

A key id names one public key forever and a revoked key id is never taken into use again, so
every node can keep a key's history without ever having to forget or un-revoke anything.
Rotation takes two steps, because other nodes believe a new key only when a key they already
trust announces it (a key that introduces itself is trusted only as a principal's first key):
1. configure the next key (SIGNING_NEXT_KEY and its id): the directory publishes it, signed by
   the current key;
2. once announced, make it the signing key on every service: the directory revokes every older
   key as superseded, effective after an overlap, so events signed with the old key by services
   not yet restarted are still trusted meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from samverkan.contracts import Event
from samverkan.contracts.directory import KeyRevocationReason, PublicKeyPublished, PublicKeyRevoked


class KeyProblem(ValueError):
    """The configured or named key cannot be used as asked; the message says what to do."""


@dataclass(frozen=True)
class SigningKey:
    """The node's configured signing key, public half only."""

    key_id: str
    public_key: str


def own_keys(entries: dict[str, Event]) -> dict[str, PublicKeyPublished | PublicKeyRevoked]:
    return {
        e.key_id: e
        for e in entries.values()
        if isinstance(e, PublicKeyPublished | PublicKeyRevoked)
    }


def key_changes(
    principal: str,
    keys: dict[str, PublicKeyPublished | PublicKeyRevoked],
    configured: SigningKey,
    at: datetime,
    overlap: timedelta,
    next_key: SigningKey | None = None,
) -> list[Event]:
    """Publish the configured (and next) key if new; supersede every other key still in force."""
    events: list[Event] = []
    for key in (configured, next_key) if next_key else (configured,):
        current = keys.get(key.key_id)
        if isinstance(current, PublicKeyRevoked):
            raise KeyProblem(
                f"signing key id {key.key_id!r} was revoked ({current.reason.value});"
                " configure a new key under a new key id"
            )
        if current is not None and current.public_key != key.public_key:
            raise KeyProblem(
                f"key id {key.key_id!r} already names another public key;"
                " give the new key a new key id"
            )
        if current is None:
            events.append(
                PublicKeyPublished(
                    principal=principal,
                    key_id=key.key_id,
                    algorithm="ed25519",
                    public_key=key.public_key,
                    valid_from=at,
                )
            )
    in_use = {configured.key_id} | ({next_key.key_id} if next_key else set())
    for key_id, entry in sorted(keys.items()):
        if key_id not in in_use and isinstance(entry, PublicKeyPublished):
            events.append(
                PublicKeyRevoked(
                    principal=principal,
                    key_id=key_id,
                    reason=KeyRevocationReason.SUPERSEDED,
                    revoked_at=at + overlap,
                )
            )
    return events


def revocation(
    principal: str,
    keys: dict[str, PublicKeyPublished | PublicKeyRevoked],
    key_id: str,
    reason: KeyRevocationReason,
    compromised_since: datetime | None,
    at: datetime,
) -> PublicKeyRevoked:
    """Revoke one of this principal's keys now (also one already revoked later, or superseded)."""
    if key_id not in keys:
        raise KeyProblem(f"this principal has published no key {key_id!r}")
    if compromised_since is not None and reason is not KeyRevocationReason.COMPROMISED:
        raise KeyProblem("compromised_since applies only to reason 'compromised'")
    return PublicKeyRevoked(
        principal=principal,
        key_id=key_id,
        reason=reason,
        compromised_since=compromised_since,
        revoked_at=at,
    )
