"""`samverkan node check` against the real Kafka and Postgres: what passes, and three mistakes."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import SECRET

from samverkan.runtime import node_check
from samverkan.runtime.node_check import Finding, check
from samverkan.runtime.services import installed
from samverkan.runtime.signing import generate_key

pytestmark = pytest.mark.integration

PASSWORD = "pw-never-printed"
REQUIRED = {"audit": 'pseudonym_key = "a-long-random-pseudonym-key"\n'}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in os.environ:
        if name.startswith(("SAMVERKAN_", "KAFKA_")):
            monkeypatch.delenv(name)
    yield


@pytest.fixture
def node_toml(tmp_path: Path, kafka_bootstrap: str, new_database: Callable[[], str]) -> Path:
    """A good node: every installed service with its own database (with a password trust ignores)."""
    sections = [
        f'[node]\nprincipal = "sjostad-kommun"\nauth_jwt_key = "{SECRET}"\n'
        f'signing_key = "{generate_key()}"\n',
        f'[kafka]\nbootstrap_servers = "{kafka_bootstrap}"\n',
    ]
    for spec in installed():
        dsn = new_database().replace("postgres@", f"postgres:{PASSWORD}@")
        sections.append(f'[{spec.name}]\ndatabase_url = "{dsn}"\n{REQUIRED.get(spec.name, "")}')
    path = tmp_path / "node.toml"
    path.write_text("\n".join(sections), encoding="utf-8")
    return path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_after(path: Path, start: str) -> str:
    """The first line of the file after `start` (which may span lines)."""
    return path.read_text(encoding="utf-8").split(start, 1)[1].split("\n", 1)[0]


def failures(findings: list[Finding]) -> list[str]:
    return [str(f) for f in findings if not f.ok]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_good_node_passes_with_an_ok_line_each(
    node_toml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = node_check.main(["node", "check", "--config", str(node_toml)])

    lines = capsys.readouterr().out.splitlines()
    assert status == 0, lines
    assert all(line.startswith("OK ") for line in lines)
    subjects = [line.split(": ")[0] for line in lines]
    assert subjects[:3] == ["OK   config", "OK   signing key", "OK   auth key"]
    assert subjects[3].startswith("OK   kafka 127.0.0.1:")
    assert len([s for s in subjects if " database postgresql://" in s]) == 4
    assert lines[-1].endswith(" migration(s) pending (applied when the service starts)")
    assert PASSWORD not in "\n".join(lines)


async def test_a_wrong_broker_address_is_named(node_toml: Path, kafka_bootstrap: str) -> None:
    wrong = f"127.0.0.1:{free_port()}"
    edit(node_toml, kafka_bootstrap, wrong)

    found = failures(await check(node_toml, installed()))

    assert len(found) == 1
    assert found[0].startswith(f"FAIL kafka {wrong}: not reachable (")


async def test_a_wrong_dsn_is_named_without_its_password(node_toml: Path) -> None:
    referral_dsn = line_after(node_toml, "[referral]\ndatabase_url = ").strip('"')
    wrong = referral_dsn.rsplit("/", 1)[0] + "/no_such_database"
    edit(node_toml, referral_dsn, wrong)

    found = failures(await check(node_toml, installed()))

    assert len(found) == 1
    assert found[0].startswith(
        f"FAIL referral database {wrong.replace(PASSWORD, '***')}: cannot connect ("
    )
    assert "no_such_database" in found[0] and PASSWORD not in found[0]


async def test_a_missing_signing_key_is_named(node_toml: Path) -> None:
    edit(node_toml, "signing_key = " + line_after(node_toml, "signing_key = ") + "\n", "")

    found = failures(await check(node_toml, installed()))

    assert found == [
        "FAIL signing key: node.signing_key is not set: events would leave unsigned and be "
        "refused by other principals"
    ]


async def test_a_broken_config_is_reported_before_anything_is_reached(
    node_toml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(node_toml, "[kafka]\n", "[kafka]\nbootstrap = 1\n")
    edit(node_toml, "[audit]\n", "[auditt]\n[audit]\n")

    found = failures(await check(node_toml, installed()))

    assert found == [
        f"FAIL config: [auditt] in {node_toml}: no such section (known here: node, kafka, "
        "audit, directory, notification, referral)",
        f"FAIL config: kafka.bootstrap: no such setting (in {node_toml})",
    ]
