"""Service processes for the component benches, started the way the devnet starts them."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from bench import sample
from samverkan.devnet.embedded import free_port
from samverkan.devnet.network import ServiceProcess

AUTH_KEY = secrets.token_urlsafe(32)
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")


def service_process(
    service: str,
    *,
    principal: str,
    dsn: str,
    bootstrap: str,
    smtp: tuple[str, int],
    logs: Path,
) -> ServiceProcess:
    prefix = f"SAMVERKAN_{service.upper()}_"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k in _INHERITED}
    env |= {
        "SAMVERKAN_PRINCIPAL": principal,
        "SAMVERKAN_AUTH_JWT_KEY": AUTH_KEY,
        "SAMVERKAN_SIGNING_KEY": sample.KEYS[principal],
        "SAMVERKAN_SIGNING_KEY_ID": sample.KEY_ID,
        "SAMVERKAN_LOG_LEVEL": "INFO",  # as the devnet runs them
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_ENABLE_IDEMPOTENCE": "false",
        prefix + "DATABASE_URL": dsn,
        prefix + "HTTP_PORT": str(port),
        prefix + "OUTBOX_POLL_INTERVAL_S": "0.2",
    }
    if service == "notification":
        env |= {
            prefix + "SMTP_HOST": smtp[0],
            prefix + "SMTP_PORT": str(smtp[1]),
            prefix + "INBOX_URL": "http://127.0.0.1:9",
        }
    if service == "audit":
        env[prefix + "PSEUDONYM_KEY"] = secrets.token_urlsafe(32)
    return ServiceProcess(principal, service, port, env, logs / f"{service}.log")
