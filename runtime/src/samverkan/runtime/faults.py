"""Fault injection for the fault-test suite: SIGKILL this process at a named point.

Inert unless SAMVERKAN_FAULT_POINT names a point; SAMVERKAN_FAULT_AFTER=n kills at its n-th hit.
The points are where a crash is most awkward for the delivery guarantees:
- `uow.before_commit`: state and outbox rows written, transaction not committed;
- `relay.before_publish`: committed, not yet sent to Kafka;
- `relay.after_publish`: acknowledged by Kafka, not yet marked published;
- `consumer.before_offset_commit`: effect committed in Postgres, Kafka offset not committed.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "uow.before_commit",
    "relay.before_publish",
    "relay.after_publish",
    "consumer.before_offset_commit",
)

_armed = os.environ.get("SAMVERKAN_FAULT_POINT")
_after = int(os.environ.get("SAMVERKAN_FAULT_AFTER", "1"))
_hits = 0

if _armed is not None and _armed not in POINTS:
    raise ValueError(f"SAMVERKAN_FAULT_POINT={_armed!r} is not one of {', '.join(POINTS)}")


def point(name: str) -> None:
    global _hits
    if name != _armed:
        return
    _hits += 1
    if _hits >= _after:
        os.kill(os.getpid(), signal.SIGKILL)
