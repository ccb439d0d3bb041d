"""Composition root of the notification service."""

from __future__ import annotations

from fastapi import FastAPI

from samverkan.contracts import topics
from samverkan.notification import consumers, service
from samverkan.notification.settings import NotificationSettings
from samverkan.runtime import cli, directory_view
from samverkan.runtime.migrations import DIRECTORY_VIEW, MigrationSource
from samverkan.runtime.node import Node
from samverkan.runtime.settings import ServiceSettings

MIGRATIONS = MigrationSource("notification", "samverkan.notification")


def build(settings: ServiceSettings) -> tuple[Node, FastAPI]:
    assert isinstance(settings, NotificationSettings)
    node = Node(
        settings,
        service="notification",
        migrations=[DIRECTORY_VIEW, MIGRATIONS],
        subscribe_to=(topics.DIRECTORY, topics.REFERRAL),
    )
    directory_view.register(node)
    deliverer = service.Deliverer(node, settings)
    consumers.register(node, settings, deliverer)
    node.background(deliverer.run)
    return node, node.http_app(title="Samverkan notification")


def main() -> int:
    return cli.main("notification", NotificationSettings, build)
