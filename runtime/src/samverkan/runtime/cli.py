"""The command line every service shares: `serve` and `migrate` (console script per service)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from samverkan.runtime import config, telemetry
from samverkan.runtime.migrations import migrate
from samverkan.runtime.node import Node
from samverkan.runtime.settings import ServiceSettings


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def config_option() -> argparse.ArgumentParser:
    """The `--config PATH` option every command takes (as a parent parser)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help=f"the node's TOML config file (default: ${config.CONFIG_ENV}, if set)",
    )
    return parser


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    pass


@dataclass(frozen=True)
class Command:
    """A service's own command beside `serve` and `migrate`: its help, what it does with the
    settings and its parsed arguments, and the arguments it takes besides `--config`."""

    help: str
    run: Callable[[ServiceSettings, argparse.Namespace], Awaitable[int]]
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments


def main(
    name: str,
    settings_class: type[ServiceSettings],
    build: Callable[[ServiceSettings], tuple[Node, FastAPI]],
    argv: list[str] | None = None,
    extra: dict[str, Command] | None = None,
) -> int:
    """Parse the command line; `extra` adds service-specific commands by name."""
    parser = argparse.ArgumentParser(prog=f"samverkan-{name}")
    commands = parser.add_subparsers(dest="command", required=True)
    option = [config_option()]
    commands.add_parser(
        "serve", parents=option, help="run the service (HTTP API, consumers, outbox relay)"
    )
    commands.add_parser(
        "migrate", parents=option, help="apply pending database migrations and exit"
    )
    for command, spec in (extra or {}).items():
        spec.arguments(
            commands.add_parser(command, parents=option, help=spec.help, description=spec.help)
        )
    args = parser.parse_args(argv)
    try:
        settings = config.load(settings_class, args.config)
    except config.ConfigError as exc:
        for problem in exc.problems:
            print(f"samverkan-{name}: configuration error: {problem}", file=sys.stderr)
        return 2
    configure_logging(settings.node.log_level)
    telemetry.configure(name, settings.principal)
    if extra and args.command in extra:
        return asyncio.run(extra[args.command].run(settings, args))
    node, app = build(settings)
    if args.command == "migrate":
        for applied in asyncio.run(migrate(settings.migration_url, node.migrations)):
            print(f"applied {applied}")
        return 0
    # What is built by now lives as long as the process: keep it out of the collector's full
    # passes, which a consumer catching up on a backlog otherwise triggers every few batches,
    # each rescanning every object of the process.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.node.log_level.lower(),
        access_log=False,  # paths hold ids only, but access logs add nothing the traces lack
        timeout_graceful_shutdown=10,
    )
    return 0
