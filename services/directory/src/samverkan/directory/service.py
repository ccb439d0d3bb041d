"""Directory use cases: import, keys, republish and export of this principal's own entries.

Each writing use case is one transaction: the new state of the entries and the events announcing
it are committed together (the outbox relay publishes them afterwards).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from samverkan.contracts import CloudEvent, Event
from samverkan.contracts.directory import KeyRevocationReason, PublicKeyPublished, PublicKeyRevoked
from samverkan.directory import keys
from samverkan.directory.domain import DirectoryDocument, changes
from samverkan.directory.store import OwnEntries
from samverkan.runtime.db import UnitOfWork


class ForeignDocument(ValueError):
    """The document describes another principal than this node's."""


@dataclass(frozen=True)
class Directory:
    """This principal's directory: who it is, how it writes, and its configured signing key."""

    principal: str
    uow: Callable[[], UnitOfWork]
    wrap: Callable[[Event], CloudEvent]
    signing_key: keys.SigningKey | None = None
    next_signing_key: keys.SigningKey | None = None
    key_overlap: timedelta = timedelta(hours=24)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class Published:
    published: int
    retired: int
    key_problem: str | None = None


async def import_document(directory: Directory, document: DirectoryDocument) -> Published:
    """Make the published state equal `document`: publish what is new or changed, retire what is
    gone, and publish the signing key if it is not yet."""
    if document.principal.principal != directory.principal:
        raise ForeignDocument(
            f"this node is {directory.principal!r};"
            f" the document is for {document.principal.principal!r}"
        )
    async with directory.uow() as tx:
        entries = OwnEntries(tx.conn)
        await entries.lock()
        current = await entries.all()
        events = changes(current, document, directory.clock())
        key_problem = None
        try:
            events += _key_changes(directory, current)
        except keys.KeyProblem as exc:  # the document is still imported; the key is the operator's
            key_problem = str(exc)
        await _publish(directory, tx, entries, events)
    retired = sum(1 for e in events if e.TYPE.endswith("-retired.v1"))
    return Published(len(events) - retired, retired, key_problem)


async def publish_signing_key(directory: Directory) -> int:
    """Publish the configured key if new and supersede older ones; idempotent (run on start)."""
    async with directory.uow() as tx:
        entries = OwnEntries(tx.conn)
        await entries.lock()
        events = _key_changes(directory, await entries.all())
        await _publish(directory, tx, entries, events)
    return len(events)


async def revoke_key(
    directory: Directory,
    key_id: str,
    reason: KeyRevocationReason,
    compromised_since: datetime | None = None,
) -> PublicKeyRevoked:
    async with directory.uow() as tx:
        entries = OwnEntries(tx.conn)
        await entries.lock()
        own = keys.own_keys(await entries.all())
        event = keys.revocation(
            directory.principal, own, key_id, reason, compromised_since, directory.clock()
        )
        await _publish(directory, tx, entries, [event])
    return event


async def republish(directory: Directory) -> int:
    """Publish every own entry again, retirements included, as new events: a node that joins
    after the log's retention, or whose read model was reset, can then rebuild the whole map."""
    async with directory.uow() as tx:
        entries = OwnEntries(tx.conn)
        await entries.lock()
        events = await entries.history()
        signing = directory.signing_key.key_id if directory.signing_key else None
        events = in_republish_order(events, signing)
        for event in events:
            await tx.publish(directory.wrap(event))
    return len(events)


def in_republish_order(events: list[Event], signing_key_id: str | None) -> list[Event]:
    """Keys first, and first of all the key that signs now: a node rebuilding from scratch
    believes that one on its own (it introduces itself) and checks every other entry with it;
    anything ahead of it in a partition would wait for it, queued behind. Otherwise in order."""

    def rank(event: Event) -> tuple[bool, bool]:
        is_key = isinstance(event, PublicKeyPublished | PublicKeyRevoked)
        return (not is_key, not (is_key and event.key_id == signing_key_id))

    return sorted(events, key=rank)


async def export_document(conn: asyncpg.Connection) -> DirectoryDocument:
    """The document this principal's published entries describe (LookupError before any import)."""
    return DirectoryDocument.from_events(list((await OwnEntries(conn).all()).values()))


async def proposals(conn: asyncpg.Connection, principal: str) -> list[dict[str, Any]]:
    """Contacts other principals propose to this principal's functions, and whether this principal
    has confirmed each (published the mirrored side)."""
    rows = await conn.fetch(
        """SELECT c.principal, c.contact, c.function, c.counterpart_function, c.need,
                  c.valid_from, c.valid_to,
                  EXISTS (SELECT 1 FROM dir_contacts m
                          WHERE m.principal = c.counterpart_principal
                            AND m.function = c.counterpart_function
                            AND m.counterpart_principal = c.principal
                            AND m.counterpart_function = c.function
                            AND m.need = c.need AND m.retired_at IS NULL) AS confirmed
           FROM dir_contacts c
           WHERE c.counterpart_principal = $1 AND c.principal <> $1 AND c.retired_at IS NULL
           ORDER BY c.principal, c.contact""",
        principal,
    )
    return [dict(r) for r in rows]


def _key_changes(directory: Directory, current: dict[str, Event]) -> list[Event]:
    if directory.signing_key is None:
        return []
    return keys.key_changes(
        directory.principal,
        keys.own_keys(current),
        directory.signing_key,
        directory.clock(),
        directory.key_overlap,
        directory.next_signing_key,
    )


async def _publish(
    directory: Directory, tx: UnitOfWork, entries: OwnEntries, events: list[Event]
) -> None:
    for event in events:
        await entries.save(event)
        await tx.publish(directory.wrap(event))
