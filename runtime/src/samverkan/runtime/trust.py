"""Is an event really from the principal it names? Its signature, checked against the keys that
principal's directory published, before anything it causes is committed. (A batch applied
together is handled while its signatures are checked in worker processes; its transaction
awaits their verdict before it commits, and a forgery rolls it back.)

- Unsigned, a bad signature, or a key the named principal had revoked (or lost) by the event's
  time → refused as a security alert: dead-lettered, so every audit service records it, and
  nothing of it is committed.
- A key id this node has not seen for that principal → "not yet": its announcement may still be
  on its way, on another partition of the directory topic. All of a principal's waiting events
  share one retry window; past it they are dead-lettered too, so a flood of events under made-up
  key ids costs one window, not one each.
- A principal's first key introduces itself: its PublicKeyPublished, signed by the key it
  announces, when no key of that principal is known. With fingerprints configured
  (`trusted_keys`), it is believed only if its fingerprint is pinned for that principal; a
  principal not listed is refused too, unless `trust_unlisted_first_keys`. This node's own keys
  are pinned by holding them. With none configured it is trusted on first use (development).
  Every later key must be announced under a key already trusted (rotation: announce the next
  key, then switch).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import ConsumerRecord

from samverkan.contracts import CloudEvent
from samverkan.contracts.directory import PublicKeyPublished, PublicKeyRevoked
from samverkan.runtime import directory_view, signing, verifiers
from samverkan.runtime.consumer import NotYet, Refused
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.settings import NodeSettings


@dataclass(frozen=True)
class Policy:
    """Which first keys are believed: those `pinned` for their principal, or any while nothing is
    pinned. `check` is the consumer's `Verify`."""

    pinned: Mapping[str, frozenset[str]] = field(default_factory=dict)
    trust_unlisted: bool = False

    @classmethod
    def from_settings(cls, node: NodeSettings) -> Policy:
        pinned = {principal: frozenset(fps) for principal, fps in node.trusted_keys.items()}
        if pinned:  # this node holds its own keys, so they need no listing
            pinned[node.principal] = pinned.get(node.principal, frozenset()) | _own(node)
        return cls(pinned, node.trust_unlisted_first_keys)

    @property
    def on_first_use(self) -> bool:
        return not self.pinned

    async def check(
        self, tx: UnitOfWork, batch: Sequence[tuple[CloudEvent, ConsumerRecord]]
    ) -> asyncio.Future[None]:
        """Look up every key of `batch` in one query, and start verifying its signatures
        together; return what to await for their verdict, which raises if an event of `batch`
        may not be believed. A batch in which keys change before its last event is not judged
        together: the consumer applies it in parts, each ending at the latest with a change."""
        if len(batch) > 1 and any(_changes_keys(event) for event, _ in batch[:-1]):
            raise NotYet(
                "keys change within this batch: each event is judged after those before it"
            )
        signatures = [_signature_headers(event, record) for event, record in batch]
        public_keys = await directory_view.keys(
            tx.conn,
            [
                (event.sourceprincipal, key_id, event.time)
                for (event, _), (_, key_id) in zip(batch, signatures, strict=True)
            ],
        )
        checks = []
        for (event, record), (headers, key_id), public_key in zip(
            batch, signatures, public_keys, strict=True
        ):
            if public_key is None:
                public_key = await self._unknown_key(tx, event, key_id)
            checks.append((public_key, (headers, record.value or b"")))
        verdict = asyncio.ensure_future(_verdict(batch, signatures, checks))
        # A batch that fails before it awaits the verdict has no use for it.
        verdict.add_done_callback(lambda done: done.cancelled() or done.exception())
        return verdict

    async def _unknown_key(self, tx: UnitOfWork, event: CloudEvent, key_id: str) -> str:
        """The key of an event whose key id is not trusted at its time: its own, when it
        introduces its principal's first key and that key may be believed; otherwise it is
        refused, or waits for the key's announcement."""
        principal = event.sourceprincipal
        if await directory_view.known(tx.conn, principal, key_id):
            raise Refused(
                f"security: {principal}'s key {key_id!r} was not valid at the event's time"
            )
        if _introduces_itself(event, key_id) and not await directory_view.known(tx.conn, principal):
            public_key: str = event.data.public_key  # type: ignore[attr-defined]
            self.refuse_unpinned(principal, key_id, public_key)
            return public_key
        # Its announcement may be on another partition of the directory topic.
        raise NotYet(
            f"{principal}'s key {key_id!r} is not known here yet", waits_for=f"keys:{principal}"
        )

    def refuse_unpinned(self, principal: str, key_id: str, public_key: str) -> None:
        """Raise Refused unless `public_key` may be `principal`'s first key."""
        listed = self.pinned.get(principal)
        if self.on_first_use or (listed is None and self.trust_unlisted):
            return
        found = signing.fingerprint(public_key)
        if found not in (listed or ()):
            unlisted = "" if listed else f" (none are configured for {principal})"
            raise Refused(
                f"security: {principal}'s key {key_id!r} ({found}) is not among the configured "
                f"fingerprints{unlisted}"
            )


async def _verdict(
    batch: Sequence[tuple[CloudEvent, ConsumerRecord]],
    signatures: list[tuple[list[tuple[str, bytes]], str]],
    checks: list[verifiers.Check],
) -> None:
    verified = await verifiers.verify_all(checks)
    for (event, _), (_, key_id), ok in zip(batch, signatures, verified, strict=True):
        if not ok:
            raise Refused(
                f"security: the signature does not verify under {event.sourceprincipal}'s "
                f"key {key_id!r}"
            )


def _own(node: NodeSettings) -> frozenset[str]:
    keys = [
        (node.signing_key, node.signing_key_id),
        (node.signing_next_key, node.signing_next_key_id),
    ]
    return frozenset(
        signing.fingerprint(signing.Signer(key.get_secret_value(), key_id).public_key_b64())
        for key, key_id in keys
        if key is not None and key_id is not None
    )


def _signature_headers(
    event: CloudEvent, record: ConsumerRecord
) -> tuple[list[tuple[str, bytes]], str]:
    headers = [(k, v or b"") for k, v in record.headers]
    found = dict(headers)
    if signing.SIGNATURE_HEADER not in found or signing.KEY_ID_HEADER not in found:
        raise Refused("security: the event is not signed")
    return headers, found[signing.KEY_ID_HEADER].decode(errors="replace")


def _changes_keys(event: CloudEvent) -> bool:
    return isinstance(event.data, PublicKeyPublished | PublicKeyRevoked)


def _introduces_itself(event: CloudEvent, key_id: str) -> bool:
    data = event.data
    return (
        isinstance(data, PublicKeyPublished)
        and data.principal == event.sourceprincipal
        and data.key_id == key_id
    )
