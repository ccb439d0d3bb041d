"""Directory use cases: import this principal's document, publishing only what changed."""

from __future__ import annotations

from samverkan.contracts.envelope import DataClassification
from samverkan.directory.domain import DirectoryDocument
from samverkan.runtime.node import Node


class ForeignDocument(ValueError):
    """The document describes another principal than this node's."""


async def import_document(node: Node, document: DirectoryDocument) -> int:
    """Store and publish every entry that is new or changed; return how many were published."""
    if document.principal.principal != node.principal:
        raise ForeignDocument(
            f"this node is {node.principal!r}; the document is for {document.principal.principal!r}"
        )
    published = 0
    async with node.uow() as tx:
        for event in document.events():
            payload = event.model_dump(mode="json")
            previous = await tx.conn.fetchval(
                "SELECT payload FROM own_entries WHERE key = $1", event.key()
            )
            if previous == payload:
                continue
            await tx.conn.execute(
                """INSERT INTO own_entries (key, type, payload) VALUES ($1, $2, $3)
                   ON CONFLICT (key) DO UPDATE SET type = $2, payload = $3, published_at = now()""",
                event.key(),
                event.TYPE,
                payload,
            )
            await tx.publish(node.event(event, classification=DataClassification.PUBLIC))
            published += 1
    return published
