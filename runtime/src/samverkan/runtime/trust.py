"""Is an event really from the principal it names? Its signature, checked against the keys that
principal's directory published, before anything is applied.

- Unsigned, a bad signature, or a key the named principal had revoked (or lost) by the event's
  time → refused as a security alert: dead-lettered, so every audit service records it, and
  nothing is applied.
- A key id this node has not seen for that principal → "not yet": its announcement may still be
  on its way, on another partition of the directory topic. All of a principal's waiting events
  share one retry window; past it they are dead-lettered too, so a flood of events under made-up
  key ids costs one window, not one each.
- A principal's first key introduces itself: its PublicKeyPublished, signed by the key it
  announces, is trusted on first use when no key of that principal is known. Every later key must
  be announced under a key already trusted (rotation: announce the next key, then switch).
  Pinning first keys by configured fingerprints is the production hardening still to come.
"""

from __future__ import annotations

from aiokafka import ConsumerRecord

from samverkan.contracts import CloudEvent
from samverkan.contracts.directory import PublicKeyPublished
from samverkan.runtime import directory_view, signing
from samverkan.runtime.consumer import NotYet, Refused
from samverkan.runtime.db import UnitOfWork


async def check(tx: UnitOfWork, event: CloudEvent, record: ConsumerRecord) -> None:
    headers = [(k, v or b"") for k, v in record.headers]
    found = dict(headers)
    if signing.SIGNATURE_HEADER not in found or signing.KEY_ID_HEADER not in found:
        raise Refused("security: the event is not signed")
    principal, key_id = event.sourceprincipal, found[signing.KEY_ID_HEADER].decode(errors="replace")
    public_key = await directory_view.key(tx.conn, principal, key_id, event.time)
    if public_key is None:
        if await directory_view.known(tx.conn, principal, key_id):
            raise Refused(
                f"security: {principal}'s key {key_id!r} was not valid at the event's time"
            )
        if _introduces_itself(event, key_id) and not await directory_view.known(tx.conn, principal):
            public_key = event.data.public_key  # type: ignore[attr-defined]
        else:
            # Its announcement may be on another partition of the directory topic.
            raise NotYet(
                f"{principal}'s key {key_id!r} is not known here yet", waits_for=f"keys:{principal}"
            )
    if not signing.verify(public_key, headers, record.value or b""):
        raise Refused(f"security: the signature does not verify under {principal}'s key {key_id!r}")


def _introduces_itself(event: CloudEvent, key_id: str) -> bool:
    data = event.data
    return (
        isinstance(data, PublicKeyPublished)
        and data.principal == event.sourceprincipal
        and data.key_id == key_id
    )
