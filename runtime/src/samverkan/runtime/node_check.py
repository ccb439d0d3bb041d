"""`samverkan node check`: validate the configuration of every service installed on this node,
then reach what it names (Kafka, each service's Postgres) and try its keys. One line per finding.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import jwt

from samverkan.runtime import config
from samverkan.runtime.broker import admin_client
from samverkan.runtime.cli import config_option
from samverkan.runtime.migrations import pending
from samverkan.runtime.services import ServiceSpec, installed
from samverkan.runtime.settings import KafkaSettings, NodeSettings, ServiceSettings
from samverkan.runtime.signing import Signer

TIMEOUT_S = 5.0
SHARED_SECTIONS = ("node", "kafka")


@dataclass(frozen=True)
class Finding:
    ok: bool
    subject: str
    text: str

    def __str__(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'} {self.subject}: {self.text}"


async def check(config_file: Path | None, services: Iterable[ServiceSpec]) -> list[Finding]:
    """Every finding about the node, configuration first; nothing is reached if it is unusable."""
    services = list(services)
    loaded: dict[str, ServiceSettings] = {}
    problems: dict[
        str, None
    ] = {}  # ordered set: [node] and [kafka] errors show once, not per service
    try:
        files = config.ConfigFiles.resolve(config_file)
    except config.ConfigError as exc:
        return [Finding(False, "config", problem) for problem in exc.problems]
    problems.update(dict.fromkeys(_unknown_sections(files, services)))
    for spec in services:
        try:
            loaded[spec.name] = config.load(spec.settings, config_file)
        except config.ConfigError as exc:
            problems.update(dict.fromkeys(exc.problems))
    findings = [Finding(False, "config", problem) for problem in problems]
    if findings or not loaded:
        return findings or [Finding(False, "config", "no samverkan service is installed here")]
    findings.append(Finding(True, "config", f"valid for {', '.join(loaded)}"))
    any_settings = next(iter(loaded.values()))
    findings += _keys(any_settings.node)
    findings.append(await _kafka(any_settings.kafka))
    for spec in services:
        findings.append(await _database(spec, loaded[spec.name]))
    return findings


def _unknown_sections(files: config.ConfigFiles, services: list[ServiceSpec]) -> list[str]:
    known = [*SHARED_SECTIONS, *(spec.name for spec in services)]
    return [
        f"[{name}] in {files.toml}: no such section (known here: {', '.join(known)})"
        for name in files.tables
        if name not in known
    ]


def _keys(node: NodeSettings) -> list[Finding]:
    findings = []
    try:
        signer = Signer.from_settings(node)
    except ValueError:  # binascii.Error is one too
        findings.append(
            Finding(
                False, "signing key", "node.signing_key is not base64 of a 32-byte Ed25519 seed"
            )
        )
    else:
        if signer is None:
            findings.append(
                Finding(
                    False,
                    "signing key",
                    "node.signing_key is not set: events would leave "
                    "unsigned and be refused by other principals",
                )
            )
        else:
            findings.append(
                Finding(
                    True, "signing key", f"{signer.key_id}, public key {signer.public_key_b64()}"
                )
            )
    try:
        jwt.get_algorithm_by_name(node.auth_jwt_algorithm).prepare_key(
            node.auth_jwt_key.get_secret_value()
        )
    except (jwt.InvalidKeyError, ValueError, TypeError):
        findings.append(
            Finding(False, "auth key", f"node.auth_jwt_key is not a {node.auth_jwt_algorithm} key")
        )
    else:
        findings.append(Finding(True, "auth key", f"{node.auth_jwt_algorithm} key present"))
    return findings


async def _kafka(settings: KafkaSettings) -> Finding:
    subject = f"kafka {settings.bootstrap_servers}"
    admin = admin_client(settings, request_timeout_ms=int(TIMEOUT_S * 1000))
    try:
        async with asyncio.timeout(TIMEOUT_S):
            await admin.start()
            cluster = await admin.describe_cluster()
    except Exception as exc:  # anything at all means "not reachable as configured"
        return Finding(False, subject, f"not reachable ({_reason(exc)})")
    finally:
        await admin.close()
    return Finding(True, subject, f"reachable, {len(cluster['brokers'])} broker(s)")


async def _database(spec: ServiceSpec, settings: ServiceSettings) -> Finding:
    subject = f"{spec.name} database {redact(settings.dsn)}"
    try:
        async with asyncio.timeout(TIMEOUT_S):
            conn = await asyncpg.connect(settings.dsn)
            try:
                waiting = await pending(conn, spec.migrations)
            finally:
                await conn.close()
    except Exception as exc:
        password = urlsplit(settings.dsn).password
        reason = _reason(exc).replace(password, "***") if password else _reason(exc)
        return Finding(False, subject, f"cannot connect ({reason})")
    if not waiting:
        return Finding(True, subject, "connected, no migrations pending")
    then = (
        "applied when the service starts"
        if settings.migrate_on_start
        else f"run samverkan-{spec.name} migrate"
    )
    return Finding(
        settings.migrate_on_start,
        subject,
        f"connected, {len(waiting)} migration(s) pending ({then})",
    )


def redact(dsn: str) -> str:
    """The DSN with its password replaced by ***."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {TIMEOUT_S:.0f}s"
    return str(exc) or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="samverkan", description="Tools for a Samverkan node.")
    node = parser.add_subparsers(dest="area", required=True).add_parser("node")
    node.add_subparsers(dest="command", required=True).add_parser(
        "check",
        parents=[config_option()],
        help="validate every installed service's configuration, then reach Kafka, Postgres, keys",
    )
    args = parser.parse_args(argv)
    findings = asyncio.run(check(args.config, installed()))
    for finding in findings:
        print(finding)
    return 0 if all(f.ok for f in findings) else 1
