"""Composition root of the directory service."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from fastapi import FastAPI

from samverkan.contracts import topics
from samverkan.directory import api, service
from samverkan.directory.keys import KeyProblem, SigningKey
from samverkan.directory.settings import DirectorySettings
from samverkan.runtime import directory_view
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.migrations import DIRECTORY_VIEW, MigrationSource
from samverkan.runtime.node import Node
from samverkan.runtime.services import ServiceSpec
from samverkan.runtime.settings import ServiceSettings
from samverkan.runtime.signing import Signer, fingerprint

MIGRATIONS = MigrationSource("directory", "samverkan.directory")
SERVICE = ServiceSpec("directory", DirectorySettings, (DIRECTORY_VIEW, MIGRATIONS))
log = logging.getLogger(__name__)


def build(settings: ServiceSettings) -> tuple[Node, FastAPI]:
    node = Node(
        settings,
        service="directory",
        migrations=list(SERVICE.own_migrations),
        subscribe_to=(topics.DIRECTORY,),
    )
    directory_view.register(node)
    directory = directory_of(node, node.uow)

    async def publish_signing_key() -> None:
        if directory.signing_key is None:
            log.warning("no signing key configured: other principals cannot verify our events")
            return
        try:
            published = await service.publish_signing_key(directory)
        except KeyProblem as exc:
            log.error("signing key not published: %s", exc)
            return
        except Exception:
            log.exception("signing key not published; it will be on the next start or import")
            return
        key = directory.signing_key
        # Other principals' operators pin this fingerprint (trusted_keys) to believe our first key.
        log.info(
            "signing key %s (%s) in force (%d events)",
            key.key_id,
            fingerprint(key.public_key),
            published,
        )

    node.background(publish_signing_key)
    app = node.http_app(api.router, title="Samverkan directory")
    app.state.directory = directory
    return node, app


def directory_of(node: Node, uow: Callable[[], UnitOfWork]) -> service.Directory:
    settings = node.settings
    overlap = getattr(settings, "key_rotation_overlap_h", 24.0)
    return service.Directory(
        principal=node.principal,
        uow=uow,
        wrap=node.event,
        signing_key=signing_key(settings),
        next_signing_key=next_signing_key(settings),
        key_overlap=timedelta(hours=overlap),
    )


def signing_key(settings: ServiceSettings) -> SigningKey | None:
    secret = settings.node.signing_key
    if secret is None:
        return None
    key_id = settings.node.signing_key_id
    return SigningKey(key_id, Signer(secret.get_secret_value(), key_id).public_key_b64())


def next_signing_key(settings: ServiceSettings) -> SigningKey | None:
    secret, key_id = settings.node.signing_next_key, settings.node.signing_next_key_id
    if secret is None or key_id is None:
        return None
    return SigningKey(key_id, Signer(secret.get_secret_value(), key_id).public_key_b64())


def main(argv: list[str] | None = None) -> int:
    from samverkan.directory import commands

    return commands.main(DirectorySettings, build, argv)
