"""The infrastructure of the component benches: a fresh embedded Kafka, Postgres and mail catcher."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from bench.cpu import CpuMeter
from bench.metrics_sink import MetricsSink
from bench.processes import service_process
from bench.rss import RssSampler
from samverkan.devnet.embedded import EmbeddedKafka, EmbeddedPostgres
from samverkan.devnet.network import ServiceProcess
from samverkan.devnet.smtp import MailCatcher
from samverkan.runtime.broker import ensure_topics
from samverkan.runtime.settings import KafkaSettings


@dataclass
class Components:
    rss: RssSampler
    profile_to: Path | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="samverkan-bench-")))

    def __post_init__(self) -> None:
        self.kafka = EmbeddedKafka(workdir=self.workdir / "kafka")
        self.postgres = EmbeddedPostgres(workdir=self.workdir / "pg")
        self.mail = MailCatcher()
        self.metrics = MetricsSink()

    @property
    def bootstrap(self) -> str:
        return self.kafka.bootstrap_servers

    def database(self, name: str) -> str:
        return self.postgres.create_database(name)

    def cpu_meter(self, consumer_pid: int) -> CpuMeter:
        """The CPU of a catch-up: its consumer's process tree, Postgres's and the broker's."""
        return CpuMeter(
            {"consumer": consumer_pid, "postgres": self.postgres.pid, "broker": self.kafka.pid}
        )

    def service(self, service: str, principal: str, dsn: str) -> ServiceProcess:
        """The service as a process (not started) that exports its metrics to `metrics`."""
        process = service_process(
            service,
            principal=principal,
            dsn=dsn,
            bootstrap=self.bootstrap,
            smtp=(self.mail.host, self.mail.port),
            logs=self.workdir,
        )
        process.env |= self.metrics.env
        return process

    def __enter__(self) -> Components:
        try:
            self.kafka.start()
            self.postgres.start()
            self.mail.start()
            self.metrics.start()
            # The services' own topic layout (partitions), before anything is produced.
            asyncio.run(ensure_topics(KafkaSettings(bootstrap_servers=self.bootstrap)))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.mail.stop()
        self.metrics.stop()
        self.postgres.cleanup()
        self.kafka.cleanup()
        shutil.rmtree(self.workdir, ignore_errors=True)
