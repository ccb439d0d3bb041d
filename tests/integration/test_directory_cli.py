"""`samverkan-directory import|export|republish` against a real database, as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import asyncpg
import pytest
from fhir.resources.R4B.bundle import Bundle
from support import SECRET, unique

pytestmark = pytest.mark.integration


def cli(dsn: str, principal: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "SAMVERKAN_PRINCIPAL": principal,
        "SAMVERKAN_AUTH_JWT_KEY": SECRET,
        "SAMVERKAN_DIRECTORY_DATABASE_URL": dsn,
    }
    command = [sys.executable, "-m", "samverkan.directory", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


async def outbox_size(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await conn.close()


async def test_import_export_and_republish(database: str, tmp_path: Path) -> None:
    principal = unique("kommun")
    text = files("samverkan.devnet").joinpath("data", "sjostad-kommun.json").read_text()
    source = tmp_path / "directory.json"
    source.write_text(text.replace('"sjostad-kommun"', f'"{principal}"'))

    imported = cli(database, principal, "import", str(source))
    assert imported.returncode == 0, imported.stderr
    assert "queued 21 published and 0 retired entries" in imported.stdout
    assert await outbox_size(database) == 21  # the running service's relay publishes them

    again = cli(database, principal, "import", str(source))
    assert "queued 0 published" in again.stdout

    exported = cli(database, principal, "export")
    assert exported.returncode == 0, exported.stderr
    original, roundtrip = json.loads(source.read_text()), json.loads(exported.stdout)
    assert roundtrip["principal"] == original["principal"]
    for part in ("units", "functions", "contacts"):
        assert sorted(roundtrip[part], key=repr) == sorted(original[part], key=repr)

    bundle = tmp_path / "mcsd.json"
    assert (
        cli(database, principal, "export", "--format", "mcsd", "--output", str(bundle)).returncode
        == 0
    )
    assert len(Bundle.model_validate_json(bundle.read_text()).entry) == 1 + 4 + 7 * 2 + 9

    republished = cli(database, principal, "republish")
    assert "queued 21 entries" in republished.stdout
    assert await outbox_size(database) == 42

    foreign = cli(database, unique("region"), "import", str(source))
    assert foreign.returncode == 1 and "the document is for" in foreign.stderr
