"""Configuration shared by every service: the node's identity, Kafka, auth. One prefix per concern."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from samverkan.contracts.values import Slug
from samverkan.runtime.config import LayeredSettings

MAX_VERIFY_PROCESSES = 8  # the most signature-verifying worker processes a service may run

_FINGERPRINT = re.compile(r"sha256:[0-9a-f]{64}")


def _fingerprint(value: str) -> str:
    value = value.strip().lower()
    if not _FINGERPRINT.fullmatch(value):
        raise ValueError(
            "a key fingerprint is 'sha256:' and 64 hex digits (`samverkan-dev keygen` prints it)"
        )
    return value


# What operators pin a public key by: signing.fingerprint() of it.
Fingerprint = Annotated[str, AfterValidator(_fingerprint)]


class NodeSettings(LayeredSettings):
    """Who this node is. Shared by all services of one principal (env prefix SAMVERKAN_)."""

    model_config = SettingsConfigDict(env_prefix="SAMVERKAN_", extra="ignore")
    section = "node"

    principal: Slug = Field(description="This principal's id, e.g. 'sjostad-kommun'.")
    auth_jwt_key: SecretStr = Field(
        description="Key that verifies staff and auditor bearer tokens (HS256 secret or PEM key)."
    )
    auth_jwt_algorithm: Literal["HS256", "RS256", "ES256", "EdDSA"] = "HS256"
    signing_key: SecretStr | None = Field(
        default=None,
        description="This principal's Ed25519 private key (base64 of the 32-byte seed) that signs "
        "every event it publishes; `samverkan-dev keygen` makes one.",
    )
    signing_key_id: Slug = Field(default="key-1", description="The id the public key is known by.")
    signing_next_key: SecretStr | None = Field(
        default=None,
        description="Rotation, step 1: the key that will sign next. The directory announces it "
        "under the current key; step 2 makes it SIGNING_KEY (with its id) once announced.",
    )
    signing_next_key_id: Slug | None = Field(default=None, description="The next key's id.")
    trusted_keys: dict[Slug, list[Fingerprint]] = Field(
        default={},  # pydantic copies it for each instance
        description="Pinned first keys: per principal, the fingerprints its first key may have, "
        'as JSON in the environment: `{"vastra-regionen": ["sha256:…"]}`. Empty: any principal\'s '
        "first key is trusted on first use (development only). This principal's own keys need "
        "no listing.",
    )
    trust_unlisted_first_keys: bool = Field(
        default=False,
        description="With trusted_keys set, still trust on first use the first key of a principal "
        "it does not list (by default such a key is refused).",
    )
    verify_signatures: bool = Field(
        default=True,
        description="Refuse events not signed by the key of the principal they name. Switch off "
        "only to read a backbone that predates signing.",
    )
    verify_processes: int | None = Field(
        default=None,
        ge=0,
        le=MAX_VERIFY_PROCESSES,
        description="Worker processes of each service that check a large batch's signatures "
        "while the service applies it. Default: one fewer than the CPUs the service may use, "
        "counting a container's CPU limit (1 to 4). 0: on threads of the service's own "
        "process instead, which overlap less with its work.",
    )
    auth_jwt_issuer: str = "samverkan-dev"
    auth_jwt_audience: str = "samverkan"
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _next_key_has_its_own_id(self) -> NodeSettings:
        if (self.signing_next_key is None) != (self.signing_next_key_id is None):
            raise ValueError("signing_next_key and signing_next_key_id go together")
        if self.signing_next_key_id is not None and self.signing_next_key_id == self.signing_key_id:
            raise ValueError("the next signing key needs a new key id")
        return self

    @model_validator(mode="after")
    def _hmac_key_long_enough(self) -> NodeSettings:
        if self.auth_jwt_algorithm == "HS256" and len(self.auth_jwt_key.get_secret_value()) < 32:
            raise ValueError("auth_jwt_key must be at least 32 characters for HS256")
        return self


class KafkaSettings(LayeredSettings):
    """The shared Kafka backbone (env prefix KAFKA_)."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")
    section = "kafka"

    bootstrap_servers: str = "127.0.0.1:9092"
    # The embedded broker cannot do InitProducerId; the outbox + inbox give the guarantees anyway.
    enable_idempotence: bool = False
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    fetch_max_wait_ms: int = Field(
        default=100,
        ge=0,
        description="How long the broker may hold a fetch that finds no new records. A consumer "
        "has one fetch in flight to a broker at a time: while it works through what it fetched "
        "of some partitions it fetches the others, and when those have nothing new the broker "
        "holds that fetch this long, and the partitions it has worked through cannot be fetched "
        "again until it returns. At 500 (Kafka's and aiokafka's default) catch-ups stood idle "
        "for up to a quarter of their time. Lower costs more fetches while idle: one to each "
        "broker a wait (at 100 ms, about 10 a second per broker per service). A real Kafka "
        "answers a held fetch as soon as data arrives for a partition in it; the embedded "
        "broker waits it out, so devnet uses 50.",
    )
    max_partition_fetch_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="Most record bytes a consumer fetches ahead from one partition. A service "
        "subscribes to up to 18 partitions and holds what it fetched ahead of each: aiokafka's "
        "1 MiB default kept ~25 MB more per service while catching up, for no speed. A larger "
        "record still comes whole.",
    )
    topic_partitions: int = Field(default=3, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)


class ServiceSettings(LayeredSettings):
    """Settings of one service process. Subclasses set env_prefix, e.g. SAMVERKAN_REFERRAL_, and
    the section of the node's config file they read, e.g. `referral`."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: SecretStr = Field(description="postgresql:// DSN of this service's own database.")
    database_owner_url: SecretStr | None = Field(
        default=None,
        description="DSN of the role that owns the schema and runs migrations, when the service's "
        "own role must not (the audit service's role may only INSERT and SELECT). "
        "Defaults to database_url.",
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    http_max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body the HTTP API reads, in bytes; a larger one is refused "
        "with 413 before any route sees it. Raise it for a very large directory document.",
    )
    migrate_on_start: bool = True
    outbox_poll_interval_s: float = Field(default=0.5, gt=0)
    consumer_max_attempts: int = Field(default=3, ge=1)
    consumer_batch_size: int = Field(
        default=500,
        ge=1,
        description="Most records applied in one transaction while catching up; 1 applies each "
        "event in its own transaction.",
    )
    consumer_commit_interval_s: float = Field(
        default=0.2,
        ge=0,
        le=60,
        description="How long a consumer gathers the offsets it is done with before it commits "
        "them, in one commit (0: at once); a stop or a rebalance commits what is done at once. "
        "Should the service stop uncleanly, what it applied since the last commit is read "
        "again (and recognised by the inbox).",
    )
    consumer_retry_window_s: float = Field(
        default=120.0, gt=0, description="How long an event may wait for its preconditions."
    )
    consumer_lag_interval_s: float = Field(
        default=10.0, gt=0, description="How often, in seconds, consumer lag is sampled."
    )
    node: NodeSettings = Field(default_factory=NodeSettings)  # type: ignore[arg-type]
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)

    @property
    def principal(self) -> str:
        return self.node.principal

    @property
    def dsn(self) -> str:
        """The service's DSN (with its password: hand it to the driver, never to a log)."""
        return self.database_url.get_secret_value()

    @property
    def migration_url(self) -> str:
        return (self.database_owner_url or self.database_url).get_secret_value()
