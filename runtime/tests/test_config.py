"""Settings from the node's TOML file, the secrets dir and the environment, and the errors about them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic_settings import SettingsConfigDict

from samverkan.runtime import cli
from samverkan.runtime.config import ConfigError, load
from samverkan.runtime.settings import ServiceSettings

pytestmark = pytest.mark.unit

JWT_KEY = "a-token-key-long-enough-for-hs256-0123456789"
DSN = "postgresql://referral:hunter2-db-password@db.example:5432/referral"


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SAMVERKAN_EXAMPLE_", extra="ignore")
    section = "example"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in os.environ:
        if name.startswith(("SAMVERKAN_", "KAFKA_")):
            monkeypatch.delenv(name)
    yield


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def node_toml(tmp_path: Path) -> Path:
    return write(
        tmp_path / "node.toml",
        f"""
[node]
principal = "sjostad-kommun"
auth_jwt_key = "{JWT_KEY}"

[kafka]
bootstrap_servers = "kafka.example:9092"

[example]
database_url = "{DSN}"
http_port = 8002
""",
    )


def test_every_section_is_read_and_the_environment_overrides_the_file(
    node_toml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMVERKAN_EXAMPLE_HTTP_PORT", "9002")
    monkeypatch.setenv("KAFKA_TOPIC_PARTITIONS", "6")
    settings = load(ExampleSettings, node_toml)
    assert settings.principal == "sjostad-kommun"
    assert settings.kafka.bootstrap_servers == "kafka.example:9092"
    assert settings.kafka.topic_partitions == 6
    assert settings.http_port == 9002
    assert settings.dsn == DSN


def test_the_file_can_be_named_by_the_environment(
    node_toml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMVERKAN_CONFIG", str(node_toml))
    assert load(ExampleSettings).http_port == 8002


def test_without_a_file_the_environment_alone_configures_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAMVERKAN_PRINCIPAL", "vastra-regionen")
    monkeypatch.setenv("SAMVERKAN_AUTH_JWT_KEY", JWT_KEY)
    monkeypatch.setenv("SAMVERKAN_EXAMPLE_DATABASE_URL", DSN)
    settings = load(ExampleSettings)
    assert (settings.principal, settings.dsn, settings.http_port) == ("vastra-regionen", DSN, 8000)


def test_secrets_come_from_files_between_the_environment_and_the_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    write(secrets / "samverkan_auth_jwt_key", JWT_KEY + "\n")
    write(secrets / "samverkan_example_database_url", DSN)
    write(secrets / "samverkan_principal", "from-the-secrets-dir")
    toml = write(tmp_path / "node.toml", '[node]\nprincipal = "from-the-file"\n')
    monkeypatch.setenv("SAMVERKAN_SECRETS_DIR", str(secrets))

    settings = load(ExampleSettings, toml)
    assert settings.node.auth_jwt_key.get_secret_value() == JWT_KEY  # the newline is not the key's
    assert settings.principal == "from-the-secrets-dir"
    monkeypatch.setenv("SAMVERKAN_PRINCIPAL", "from-the-environment")
    assert load(ExampleSettings, toml).principal == "from-the-environment"
    assert "hunter2" not in repr(settings) and JWT_KEY not in repr(settings)


def test_errors_name_the_key_and_where_its_value_came_from(
    node_toml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = node_toml.read_text().replace('principal = "sjostad-kommun"', "")
    write(node_toml, text.replace("http_port = 8002", 'http_port = "eighty"\nhtp_port = 1'))
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "TLS")
    with pytest.raises(ConfigError) as raised:
        load(ExampleSettings, node_toml)
    assert raised.value.problems == [
        f"example.htp_port: no such setting (in {node_toml})",
        f"node.principal: required but not set (set [node] principal in {node_toml} or "
        "SAMVERKAN_PRINCIPAL)",
        "kafka.security_protocol: Input should be 'PLAINTEXT', 'SSL', 'SASL_PLAINTEXT' or "
        "'SASL_SSL' (from KAFKA_SECURITY_PROTOCOL)",
        "example.http_port: Input should be a valid integer, unable to parse string as an "
        f"integer (from [example] http_port in {node_toml})",
    ]


def test_a_missing_or_broken_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file .*absent.toml does not exist"):
        load(ExampleSettings, tmp_path / "absent.toml")
    broken = write(tmp_path / "broken.toml", "[node\nprincipal = 1\n")
    with pytest.raises(ConfigError, match=r"broken.toml is not valid TOML: .*line 1"):
        load(ExampleSettings, broken)


def test_no_secret_value_is_printed_in_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    write(secrets / "samverkan_auth_jwt_key", "short-secret-k3y")
    write(secrets / "samverkan_signing_key", "not-base64-s3cret")
    write(secrets / "samverkan_example_database_url", DSN)
    monkeypatch.setenv("SAMVERKAN_SECRETS_DIR", str(secrets))
    monkeypatch.setenv("SAMVERKAN_PRINCIPAL", "sjostad-kommun")
    monkeypatch.setenv("SAMVERKAN_EXAMPLE_HTTP_PORT", "-1")

    status = cli.main("example", ExampleSettings, _never_built, argv=["migrate"])

    err = capsys.readouterr().err
    assert status == 2
    assert "node: Value error, auth_jwt_key must be at least 32 characters for HS256" in err
    assert "example.http_port: Input should be greater than or equal to 0" in err
    for secret in ("short-secret-k3y", "not-base64-s3cret", "hunter2"):
        assert secret not in err


def _never_built(settings: ServiceSettings) -> None:
    raise AssertionError("configuration errors stop the command before anything is built")


FINGERPRINT = "sha256:" + "ab" * 32


def test_trusted_keys_come_from_a_toml_table(node_toml: Path) -> None:
    text = node_toml.read_text().replace(
        "[kafka]",
        f'[node.trusted_keys]\n"vastra-regionen" = ["{FINGERPRINT.upper()}"]\n\n[kafka]',
    )
    node = load(ExampleSettings, write(node_toml, text)).node
    assert node.trusted_keys == {"vastra-regionen": [FINGERPRINT]}  # upper case hex is the same
    assert node.trust_unlisted_first_keys is False


def test_trusted_keys_come_from_json_in_the_environment(
    node_toml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAMVERKAN_TRUSTED_KEYS", f'{{"vastra-regionen": ["{FINGERPRINT}"]}}')
    monkeypatch.setenv("SAMVERKAN_TRUST_UNLISTED_FIRST_KEYS", "true")
    node = load(ExampleSettings, node_toml).node
    assert node.trusted_keys == {"vastra-regionen": [FINGERPRINT]}
    assert node.trust_unlisted_first_keys is True


def test_a_malformed_fingerprint_is_named_with_its_principal(
    node_toml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hex of the public key's base64, not of its raw bytes, is a likely slip.
    monkeypatch.setenv("SAMVERKAN_TRUSTED_KEYS", '{"vastra-regionen": ["sha256:abc"]}')
    with pytest.raises(ConfigError) as raised:
        load(ExampleSettings, node_toml)
    assert raised.value.problems == [
        "node.trusted_keys.vastra-regionen.0: Value error, a key fingerprint is 'sha256:' and 64 "
        "hex digits (`samverkan-dev keygen` prints it) (from SAMVERKAN_TRUSTED_KEYS)"
    ]
