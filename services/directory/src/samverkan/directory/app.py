"""Composition root of the directory service."""

from __future__ import annotations

from fastapi import FastAPI

from samverkan.contracts import topics
from samverkan.directory import api
from samverkan.directory.settings import DirectorySettings
from samverkan.runtime import cli, directory_view
from samverkan.runtime.migrations import DIRECTORY_VIEW, MigrationSource
from samverkan.runtime.node import Node
from samverkan.runtime.settings import ServiceSettings

MIGRATIONS = MigrationSource("directory", "samverkan.directory")


def build(settings: ServiceSettings) -> tuple[Node, FastAPI]:
    node = Node(
        settings,
        service="directory",
        migrations=[DIRECTORY_VIEW, MIGRATIONS],
        subscribe_to=(topics.DIRECTORY,),
    )
    directory_view.register(node)
    return node, node.http_app(api.router, title="Samverkan directory")


def main() -> int:
    return cli.main("directory", DirectorySettings, build)
