"""SIGKILL a service at each awkward point of the delivery path, restart it, and lose nothing."""

from __future__ import annotations

import pytest
from harness import MUNICIPALITY, REGION, Healer, arm, assert_exactly_once, prepare, send

from samverkan.devnet.network import Network

LOAD = 12

CRASHES = [
    # (principal, service, fault point, n-th hit)
    (MUNICIPALITY, "referral", "uow.before_commit", 4),  # a staff request dies uncommitted
    (MUNICIPALITY, "referral", "relay.before_publish", 3),  # committed, not yet published
    (MUNICIPALITY, "referral", "relay.after_publish", 3),  # published, not marked: re-published
    (REGION, "referral", "consumer.before_offset_commit", 4),  # applied, offset not committed
    # Receipts re-published. The region's relay publishes a batch of receipts per batch its
    # consumer applied, and 12 referrals sent one after another may reach it in only a few
    # batches: a CI rehearsal once saw no third, so the fault fires at the second.
    (REGION, "referral", "relay.after_publish", 2),
    (REGION, "notification", "consumer.before_offset_commit", 3),  # mail recorded, redelivered
    (REGION, "audit", "consumer.before_offset_commit", 5),  # audited, redelivered
    (MUNICIPALITY, "audit", "uow.before_commit", 5),  # audit append dies uncommitted
]


@pytest.mark.parametrize(("principal", "service", "point", "after"), CRASHES)
def test_crash_and_restart_lose_nothing_and_apply_nothing_twice(
    principal: str, service: str, point: str, after: int
) -> None:
    with Network() as net:
        prepare(net)
        arm(net.principals[principal].services[service], point, after)
        heal = Healer(net)
        accepted = send(net, LOAD, between=heal)
        assert_exactly_once(net, accepted, heal)
        assert f"{principal}/{service}" in heal.restarts, f"the fault at {point} never fired"
