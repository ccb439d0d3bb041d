"""A local Samverkan network: principals × services as real processes on embedded infrastructure.

Used by `make demo`, the end-to-end tests and local development. Kafka and Postgres are the
embedded ones unless KAFKA_BOOTSTRAP_SERVERS / SAMVERKAN_DEV_POSTGRES_URL name external ones.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import asyncpg
import httpx

from samverkan.devnet.embedded import EmbeddedKafka, EmbeddedPostgres, free_port, start_child
from samverkan.devnet.smtp import MailCatcher
from samverkan.runtime.auth import Role, issue_token
from samverkan.runtime.signing import Signer, fingerprint, generate_key

SERVICES = ("directory", "referral", "notification", "audit")
PRINCIPALS = ("sjostad-kommun", "vastra-regionen")
# The embedded broker holds a fetch that finds nothing for the whole wait, even when records
# arrive meanwhile, so each hop between services costs up to this much here.
FETCH_MAX_WAIT_MS = 50


def fetch_max_wait_ms() -> int:
    """The fetch wait devnet gives its services: KAFKA_FETCH_MAX_WAIT_MS, else FETCH_MAX_WAIT_MS."""
    return int(os.environ.get("KAFKA_FETCH_MAX_WAIT_MS", FETCH_MAX_WAIT_MS))


@dataclass
class ServiceProcess:
    principal: str
    service: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = start_child(
            [sys.executable, "-m", f"samverkan.{self.service}", "serve"], env=self.env, stdout=log
        )
        log.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def restart(self, **env: str | None) -> None:
        """Stop (if running) and start again with `env` changed (None removes a variable)."""
        self.stop()
        for key, value in env.items():
            if value is None:
                self.env.pop(key, None)
            else:
                self.env[key] = value
        self.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.principal}/{self.service} exited with {self.process.returncode}:\n"
                    f"{self.log_tail()}"
                )
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.principal}/{self.service} not ready after {timeout:.0f}s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.2)

    def replica(self, name: str) -> ServiceProcess:
        """Another process of this service: same database and consumer group, its own port."""
        port = free_port()
        env = {**self.env, f"SAMVERKAN_{self.service.upper()}_HTTP_PORT": str(port)}
        log_path = self.log_path.with_name(f"{self.principal}-{self.service}-{name}.log")
        return ServiceProcess(self.principal, self.service, port, env, log_path)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Principal:
    id: str
    auth_secret: str
    signing_key: str = field(default_factory=generate_key)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    postgres: EmbeddedPostgres | None = None

    def url(self, service: str) -> str:
        return self.services[service].url

    def token(self, *, person: str, function: str | None, roles: list[Role]) -> str:
        return issue_token(
            self.auth_secret, person=person, principal=self.id, function=function, roles=roles
        )


class Network:
    """Start with `with Network() as net:`; everything started is stopped on exit, also on errors."""

    def __init__(self, principals: tuple[str, ...] = PRINCIPALS) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="samverkan-net-"))
        self.kafka: EmbeddedKafka | None = None
        self.bootstrap_servers = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        self.fetch_max_wait_ms = fetch_max_wait_ms()
        self.mail = MailCatcher()
        self.principals = {
            pid: Principal(pid, auth_secret=secrets.token_urlsafe(32)) for pid in principals
        }

    def __enter__(self) -> Network:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, ready_timeout: float = 90.0) -> None:
        if not self.bootstrap_servers:
            self.kafka = EmbeddedKafka(workdir=self.workdir / "kafka").start()
            self.bootstrap_servers = self.kafka.bootstrap_servers
        self.mail.start()
        for principal in self.principals.values():
            self._prepare(principal)
        for principal in self.principals.values():
            for process in principal.services.values():
                process.start()
        self.wait_ready(ready_timeout)

    def _prepare(self, principal: Principal) -> None:
        external = os.environ.get("SAMVERKAN_DEV_POSTGRES_URL")
        if external:
            dsns = {s: external_database(external, f"{principal.id}_{s}") for s in SERVICES}
        else:
            principal.postgres = EmbeddedPostgres(workdir=self.workdir / f"pg-{principal.id}")
            principal.postgres.start()
            dsns = {s: principal.postgres.create_database(s) for s in SERVICES}
        common = {
            **_inherited_env(),
            "SAMVERKAN_PRINCIPAL": principal.id,
            "SAMVERKAN_AUTH_JWT_KEY": principal.auth_secret,
            "SAMVERKAN_SIGNING_KEY": principal.signing_key,
            "SAMVERKAN_SIGNING_KEY_ID": "key-1",
            "SAMVERKAN_TRUSTED_KEYS": json.dumps(self.trusted_keys()),
            "SAMVERKAN_LOG_LEVEL": os.environ.get("SAMVERKAN_LOG_LEVEL", "INFO"),
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "KAFKA_ENABLE_IDEMPOTENCE": os.environ.get("KAFKA_ENABLE_IDEMPOTENCE", "false"),
            "KAFKA_FETCH_MAX_WAIT_MS": str(self.fetch_max_wait_ms),
        }
        ports = {s: free_port() for s in SERVICES}
        for service in SERVICES:
            prefix = f"SAMVERKAN_{service.upper()}_"
            env = {
                **common,
                prefix + "DATABASE_URL": dsns[service],
                prefix + "HTTP_PORT": str(ports[service]),
                prefix + "OUTBOX_POLL_INTERVAL_S": "0.2",
            }
            if service == "notification":
                env |= {
                    prefix + "SMTP_HOST": self.mail.host,
                    prefix + "SMTP_PORT": str(self.mail.port),
                    prefix + "MAIL_FROM": f"samverkan@{principal.id}.example",
                    prefix + "INBOX_URL": f"http://127.0.0.1:{ports['referral']}",
                }
            if service == "audit":
                env[prefix + "PSEUDONYM_KEY"] = secrets.token_urlsafe(32)
            principal.services[service] = ServiceProcess(
                principal.id,
                service,
                ports[service],
                env,
                self.workdir / f"{principal.id}-{service}.log",
            )

    def trusted_keys(self) -> dict[str, list[str]]:
        """Every principal's first key pinned, as each node's SAMVERKAN_TRUSTED_KEYS."""
        return {
            p.id: [fingerprint(Signer(p.signing_key, "key-1").public_key_b64())]
            for p in self.principals.values()
        }

    def wait_ready(self, timeout: float = 90.0) -> None:
        for process in self.processes():
            process.wait_ready(timeout)

    def processes(self) -> list[ServiceProcess]:
        return [p for principal in self.principals.values() for p in principal.services.values()]

    def stop(self) -> None:
        for process in self.processes():
            process.stop()
        for principal in self.principals.values():
            if principal.postgres is not None:
                principal.postgres.stop()
        self.mail.stop()
        if self.kafka is not None:
            self.kafka.stop()
        if os.environ.get("SAMVERKAN_KEEP_LOGS"):
            print(f"logs kept in {self.workdir}", file=sys.stderr)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _inherited_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep}


def external_database(server_url: str, name: str) -> str:
    """Create a fresh database on an external server (one per run, so runs never collide)."""
    database = f"sv_{secrets.token_hex(4)}_{name}".replace("-", "_")

    async def create() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()

    asyncio.run(create())
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{database}"
