"""The FastStream Kafka broker, built one way for every service, and topic provisioning."""

from __future__ import annotations

import logging
import ssl
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from samverkan.contracts import topics
from samverkan.runtime.settings import KafkaSettings

log = logging.getLogger(__name__)


def _security(settings: KafkaSettings) -> BaseSecurity | None:
    if settings.security_protocol == "PLAINTEXT":
        return None
    context = ssl.create_default_context(cafile=settings.ssl_cafile)
    use_ssl = settings.security_protocol.endswith("SSL")
    if settings.sasl_mechanism is None:
        return BaseSecurity(ssl_context=context, use_ssl=use_ssl)
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
    kind = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return kind[settings.sasl_mechanism](
        username=settings.sasl_username or "",
        password=password,
        ssl_context=context,
        use_ssl=use_ssl,
    )


GRACEFUL_STOP_S = 15.0


def make_broker(settings: KafkaSettings, *, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        settings.bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.enable_idempotence,
        security=_security(settings),
        # On stop, an in-flight handler gets this long; its unsettled records are read again.
        graceful_timeout=GRACEFUL_STOP_S,
        # Per-message "received/processed" lines are debug noise; our consumer logs what matters.
        log_level=logging.DEBUG,
        # No dependency injection: the one subscriber takes the batch as the decoder hands it
        # over (see consumer.raw_batch). Resolving even that message through FastStream's `Context` ran a
        # synchronous step on a worker thread, a hop there and back for every batch: for live
        # traffic, one record to a batch, ~10 % of each service's CPU.
        apply_types=False,
    )


def admin_client(settings: KafkaSettings, **options: Any) -> AIOKafkaAdminClient:
    """An admin client with the node's security settings (not started)."""
    options["bootstrap_servers"] = settings.bootstrap_servers
    security = _security(settings)
    if security is not None:
        options.update(
            security_protocol=settings.security_protocol, ssl_context=security.ssl_context
        )
        if settings.sasl_mechanism:
            options.update(
                sasl_mechanism=settings.sasl_mechanism,
                sasl_plain_username=settings.sasl_username,
                sasl_plain_password=settings.sasl_password.get_secret_value()
                if settings.sasl_password
                else None,
            )
    return AIOKafkaAdminClient(**options)


async def ensure_topics(settings: KafkaSettings, names: tuple[str, ...] = topics.ALL) -> None:
    """Create our topics if they are missing; harmless when they exist (every service calls it)."""
    admin = admin_client(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name,
                num_partitions=settings.topic_partitions,
                replication_factor=settings.topic_replication_factor,
            )
            for name in names
            if name not in existing
        ]
        if missing:
            try:
                await admin.create_topics(missing)
                log.info("created topics %s", ", ".join(t.name for t in missing))
            except TopicAlreadyExistsError:
                pass  # another service of the node created them first
    finally:
        await admin.close()


async def publish_record(
    broker: KafkaBroker, topic: str, key: bytes, value: bytes, headers: dict[str, str]
) -> Any:
    """Send one record with acks=all; return the future that resolves when the broker has it."""
    return await broker.publish(value, topic, key=key, headers=headers, no_confirm=True)
