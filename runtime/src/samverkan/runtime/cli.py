"""The command line every service shares: `serve` and `migrate` (console script per service)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from samverkan.runtime import telemetry
from samverkan.runtime.migrations import migrate
from samverkan.runtime.node import Node
from samverkan.runtime.settings import ServiceSettings


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(
    name: str,
    load_settings: Callable[[], ServiceSettings],
    build: Callable[[ServiceSettings], tuple[Node, FastAPI]],
    argv: list[str] | None = None,
    extra: dict[str, tuple[str, Callable[[ServiceSettings], Awaitable[int]]]] | None = None,
) -> int:
    """Parse the command line; `extra` adds service-specific commands (name: (help, run))."""
    parser = argparse.ArgumentParser(prog=f"samverkan-{name}")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the service (HTTP API, consumers, outbox relay)")
    commands.add_parser("migrate", help="apply pending database migrations and exit")
    for command, (help_text, _) in (extra or {}).items():
        commands.add_parser(command, help=help_text)
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            print(
                f"samverkan-{name}: configuration error: {field}: {error['msg']}", file=sys.stderr
            )
        return 2
    configure_logging(settings.node.log_level)
    telemetry.configure(name, settings.principal)
    if extra and args.command in extra:
        return asyncio.run(extra[args.command][1](settings))
    node, app = build(settings)
    if args.command == "migrate":
        for applied in asyncio.run(migrate(settings.migration_url, node.migrations)):
            print(f"applied {applied}")
        return 0
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.node.log_level.lower(),
        access_log=False,  # paths hold ids only, but access logs add nothing the traces lack
        timeout_graceful_shutdown=10,
    )
    return 0
