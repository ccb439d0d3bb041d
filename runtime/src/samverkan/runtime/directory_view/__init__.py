"""The directory as every service sees it: a read model built from directory events, and routing.

A principal may only describe itself: an event about principal X must come from principal X.
The map is rebuilt by replaying the directory topic from the beginning; each principal's directory
service can republish all its entries, so no node depends on retention or log compaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from samverkan.runtime.node import Node

from samverkan.runtime.directory_view.entries import DIRECTORY_EVENTS, apply
from samverkan.runtime.directory_view.keys import key, keys, known
from samverkan.runtime.directory_view.routing import (
    AmbiguousRoute,
    Function,
    NoRoute,
    counterpart,
    exists,
    function,
)

__all__ = [
    "DIRECTORY_EVENTS",
    "AmbiguousRoute",
    "Function",
    "NoRoute",
    "apply",
    "counterpart",
    "exists",
    "function",
    "key",
    "keys",
    "known",
    "register",
]


def register(node: Node) -> None:
    """Keep this service's copy of the directory current from directory events."""
    for event_class in DIRECTORY_EVENTS:
        node.on(event_class, apply, addressed_to_me=False)
