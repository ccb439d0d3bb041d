"""Composition root of the notification service."""

from __future__ import annotations

from fastapi import FastAPI

from samverkan.contracts import topics
from samverkan.notification import api, consumers, service
from samverkan.notification.channels import MailChannel, WebhookChannel
from samverkan.notification.clock import Clock, SystemClock
from samverkan.notification.delivery import Worker
from samverkan.notification.reminders import Reminders
from samverkan.notification.settings import NotificationSettings
from samverkan.notification.webhook_payload import TOPICS
from samverkan.runtime import cli, directory_view
from samverkan.runtime.migrations import DIRECTORY_VIEW, MigrationSource
from samverkan.runtime.node import Node
from samverkan.runtime.services import ServiceSpec
from samverkan.runtime.settings import ServiceSettings

MIGRATIONS = MigrationSource("notification", "samverkan.notification")
SERVICE = ServiceSpec("notification", NotificationSettings, (DIRECTORY_VIEW, MIGRATIONS))


class Notification:
    """The parts tests reach for: the node, its workers and its clock."""

    def __init__(self, settings: NotificationSettings, clock: Clock) -> None:
        self.clock = clock
        self.node = Node(
            settings,
            service="notification",
            migrations=list(SERVICE.own_migrations),
            subscribe_to=(topics.DIRECTORY, *TOPICS),
        )
        self.mail = Worker(self.node, settings, clock, MailChannel(settings))
        self.webhooks = Worker(self.node, settings, clock, WebhookChannel(settings, self.node))
        self.reminders = Reminders(self.node, settings, clock)
        directory_view.register(self.node)
        ctx = service.Context(self.node.principal, settings, clock)
        consumers.register(self.node, ctx, self.wake)
        for loop in (self.mail, self.webhooks, self.reminders):
            self.node.background(loop)
        self.app = self.node.http_app(api.router, title="Samverkan notification")
        self.app.state.clock = clock

    def wake(self) -> None:
        self.mail.wakeup.set()
        self.webhooks.wakeup.set()


def assemble(settings: NotificationSettings, clock: Clock | None = None) -> Notification:
    return Notification(settings, clock or SystemClock())


def build(settings: ServiceSettings) -> tuple[Node, FastAPI]:
    assert isinstance(settings, NotificationSettings)
    service_ = assemble(settings)
    return service_.node, service_.app


def main() -> int:
    return cli.main("notification", NotificationSettings, build)
