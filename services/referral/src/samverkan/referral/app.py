"""Composition root of the referral service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from samverkan.contracts import topics
from samverkan.referral import api, consumers
from samverkan.referral.service.consents import EXPIRY_INTERVAL_S, expiry_loop
from samverkan.referral.service.context import Context, system_clock
from samverkan.referral.settings import ReferralSettings
from samverkan.runtime import cli, directory_view
from samverkan.runtime.migrations import DIRECTORY_VIEW, MigrationSource
from samverkan.runtime.node import Node
from samverkan.runtime.services import ServiceSpec
from samverkan.runtime.settings import ServiceSettings

MIGRATIONS = MigrationSource("referral", "samverkan.referral")
SERVICE = ServiceSpec("referral", ReferralSettings, (DIRECTORY_VIEW, MIGRATIONS))
TOPICS = (topics.DIRECTORY, topics.REFERRAL, topics.CONSENT, topics.CONCERN, topics.CONSULTATION)


def build(
    settings: ServiceSettings,
    *,
    clock: Callable[[], datetime] = system_clock,
    expiry_interval_s: float = EXPIRY_INTERVAL_S,
) -> tuple[Node, FastAPI]:
    """The service; tests inject the clock (and check expiry often) instead of waiting."""
    node = Node(
        settings,
        service="referral",
        migrations=list(SERVICE.own_migrations),
        subscribe_to=TOPICS,
    )
    ctx = Context(node, clock)
    directory_view.register(node)
    consumers.register(node.on, ctx)
    node.background(expiry_loop(ctx, expiry_interval_s))
    app = node.http_app(*api.ROUTERS, title="Samverkan referral")
    app.state.referral = ctx
    api.install_refusals(app)
    return node, app


def main() -> int:
    return cli.main("referral", ReferralSettings, build)
