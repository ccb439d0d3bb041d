"""The directory's own commands: `import FILE`, `export [--format] [--output]`, `republish`.

They write through the outbox like the HTTP API does; the running directory service's relay
publishes what they queued.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
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


def main(settings_class: type[ServiceSettings], build: Build, argv: list[str] | None) -> int:
    def command(help: str, arguments: Callable[[argparse.ArgumentParser], None]) -> cli.Command:
        async def run(settings: ServiceSettings, args: argparse.Namespace) -> int:
            return await _run(build, settings, args)

        return cli.Command(help, run, arguments)

    extra = {
        "import": command(
            "import this principal's directory document (JSON) and publish what changed",
            lambda p: p.add_argument("file", type=Path, help="the directory document, JSON"),
        ),
        "export": command(
            "write this principal's directory: the native document or an mCSD (FHIR) Bundle",
            _export_arguments,
        ),
        "republish": command(
            "publish every own entry again (for nodes that join after the log's retention)",
            lambda p: None,
        ),
    }
    return cli.main("directory", settings_class, build, argv=argv, extra=extra)


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("native", "mcsd"), default="native")
    parser.add_argument("--output", type=Path, help="file to write (default: stdout)")


async def _run(build: Build, settings: ServiceSettings, args: argparse.Namespace) -> int:
    node, _ = build(settings)
    if settings.migrate_on_start:
        await migrate(settings.migration_url, node.migrations)
    pool = await create_pool(settings.dsn, max_size=2)
    try:
        from samverkan.directory.app import directory_of

        directory = directory_of(node, lambda: UnitOfWork(pool))
        if args.command == "import":
            return await _import(directory, args.file)
        if args.command == "export":
            async with pool.acquire() as conn:
                document = await service.export_document(conn)
            return _export(document, args.format, args.output)
        print(f"queued {await service.republish(directory)} entries for publication")
        return 0
    finally:
        await pool.close()


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
