"""The directory's own commands: `import FILE`, `export [--format] [--output]`, `republish`.

They write through the outbox like the HTTP API does; the running directory service's relay
publishes what they queued.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError

from samverkan.directory import mcsd, service
from samverkan.directory.domain import DirectoryDocument
from samverkan.runtime import cli
from samverkan.runtime.db import UnitOfWork, create_pool
from samverkan.runtime.migrations import migrate
from samverkan.runtime.node import Node
from samverkan.runtime.settings import ServiceSettings

Build = Callable[[ServiceSettings], tuple[Node, FastAPI]]
Run = Callable[[ServiceSettings], Awaitable[int]]

HELP = {
    "import": "import this principal's directory document (JSON) and publish what changed",
    "export": "write this principal's directory: the native document or an mCSD (FHIR) Bundle",
    "republish": "publish every own entry again (for nodes that join after the log's retention)",
}


def main(settings_class: type[ServiceSettings], build: Build, argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    extra: dict[str, tuple[str, Run]] = {name: (text, _unused) for name, text in HELP.items()}
    if argv and argv[0] in HELP:
        # runtime.cli gives extra commands no arguments of their own: parse them here first.
        run, config = _command(argv, build)
        extra[argv[0]] = (HELP[argv[0]], run)
        argv = [argv[0], *(["--config", str(config)] if config else [])]
    return cli.main("directory", settings_class, build, argv=argv, extra=extra)


def _command(argv: list[str], build: Build) -> tuple[Run, Path | None]:
    parser = argparse.ArgumentParser(
        prog=f"samverkan-directory {argv[0]}",
        description=HELP[argv[0]],
        parents=[cli.config_option()],
    )
    if argv[0] == "import":
        parser.add_argument("file", type=Path, help="the directory document, JSON")
    if argv[0] == "export":
        parser.add_argument("--format", choices=("native", "mcsd"), default="native")
        parser.add_argument("--output", type=Path, help="file to write (default: stdout)")
    args = parser.parse_args(argv[1:])

    async def run(settings: ServiceSettings) -> int:
        node, _ = build(settings)
        if settings.migrate_on_start:
            await migrate(settings.migration_url, node.migrations)
        pool = await create_pool(settings.dsn, max_size=2)
        try:
            from samverkan.directory.app import directory_of

            directory = directory_of(node, lambda: UnitOfWork(pool))
            if argv[0] == "import":
                return await _import(directory, args.file)
            if argv[0] == "export":
                async with pool.acquire() as conn:
                    document = await service.export_document(conn)
                return _export(document, args.format, args.output)
            print(f"queued {await service.republish(directory)} entries for publication")
            return 0
        finally:
            await pool.close()

    return run, args.config


async def _import(directory: service.Directory, file: Path) -> int:
    try:
        document = DirectoryDocument.model_validate_json(await asyncio.to_thread(file.read_bytes))
        result = await service.import_document(directory, document)
    except (OSError, ValidationError, service.ForeignDocument) as exc:
        print(f"samverkan-directory import: {file}: {exc}", file=sys.stderr)
        return 1
    print(f"queued {result.published} published and {result.retired} retired entries")
    if result.key_problem:
        print(f"signing key not published: {result.key_problem}", file=sys.stderr)
    return 0


def _export(document: DirectoryDocument, format: str, output: Path | None) -> int:
    body: Any = (
        mcsd.bundle(document, date.today())
        if format == "mcsd"
        else document.model_dump(mode="json", exclude_defaults=True)
    )
    text = json.dumps(body, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    return 0


async def _unused(settings: ServiceSettings) -> int:
    raise AssertionError("parsed before cli.main runs")
