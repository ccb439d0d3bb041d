"""deploy/node.example.toml configures every installed service, with its secrets from a secrets dir."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from samverkan.runtime.config import load
from samverkan.runtime.services import installed
from samverkan.runtime.signing import generate_key

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "node.example.toml"


def test_the_example_file_validates_for_every_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in os.environ:
        if name.startswith(("SAMVERKAN_", "KAFKA_")):
            monkeypatch.delenv(name)
    secrets = {
        "samverkan_auth_jwt_key": "a-token-key-long-enough-for-hs256-0123456789",
        "samverkan_signing_key": generate_key(),
        "samverkan_audit_pseudonym_key": "a-long-random-pseudonym-key",
        "kafka_sasl_password": "backbone-password",
    }
    services = installed()
    for spec in services:
        secrets[f"samverkan_{spec.name}_database_url"] = f"postgresql://{spec.name}@db/{spec.name}"
    for name, value in secrets.items():
        (tmp_path / name).write_text(value + "\n", encoding="utf-8")
    monkeypatch.setenv("SAMVERKAN_SECRETS_DIR", str(tmp_path))

    assert {spec.name for spec in services} == {"directory", "referral", "notification", "audit"}
    for spec in services:
        settings = load(spec.settings, EXAMPLE)
        assert settings.principal == "sjostad-kommun"
        assert settings.kafka.security_protocol == "SASL_SSL"
        assert settings.http_host == "0.0.0.0"
