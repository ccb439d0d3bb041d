"""Composition root of the referral service."""

from __future__ import annotations

from fastapi import FastAPI

from samverkan.contracts import topics
from samverkan.referral import api, consumers
from samverkan.referral.settings import ReferralSettings
from samverkan.runtime import cli, directory_view
from samverkan.runtime.migrations import DIRECTORY_VIEW, MigrationSource
from samverkan.runtime.node import Node
from samverkan.runtime.settings import ServiceSettings

MIGRATIONS = MigrationSource("referral", "samverkan.referral")


def build(settings: ServiceSettings) -> tuple[Node, FastAPI]:
    node = Node(
        settings,
        service="referral",
        migrations=[DIRECTORY_VIEW, MIGRATIONS],
        subscribe_to=(topics.DIRECTORY, topics.REFERRAL),
    )
    directory_view.register(node)
    consumers.register(node)
    return node, node.http_app(api.router, title="Samverkan referral")


def main() -> int:
    return cli.main("referral", ReferralSettings, build)
