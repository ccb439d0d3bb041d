"""free_port: each server of a network gets a port of its own."""

from __future__ import annotations

import pytest

from samverkan.devnet.embedded import free_port

pytestmark = pytest.mark.unit


def test_free_port_never_hands_out_a_port_twice() -> None:
    """A network's servers are given their ports before any binds one: two given the same port
    would leave one unable to start (seen in CI)."""
    ports = [free_port() for _ in range(2000)]  # at random, some would repeat (birthday bound)
    assert len(set(ports)) == len(ports)
