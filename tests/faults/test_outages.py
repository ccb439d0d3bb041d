"""Infrastructure goes away under load: the broker, a Postgres server, one of two replicas."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Iterator

from harness import MUNICIPALITY, REGION, Healer, assert_exactly_once, dsn, prepare, query, send

from samverkan.devnet.network import Network
from samverkan.runtime.broker import ensure_topics
from samverkan.runtime.settings import KafkaSettings

LOAD = 10


@contextlib.contextmanager
def frozen(net: Network) -> Iterator[None]:
    """SIGSTOP every service process, SIGCONT them after: paused, not restarted."""
    processes = [p.process for p in net.processes() if p.process is not None]
    for process in processes:
        process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGCONT)


def test_broker_outage_keeps_accepted_requests_in_the_outbox() -> None:
    """The embedded broker is memory-only: stopping it loses the topics. So the test first lets
    everything published be consumed, then stops the broker, accepts more referrals (they wait
    in the outbox), and starts an empty broker on the same address, whose topics are provisioned
    again. A durable Kafka would also keep the topics, the consumer offsets and any events
    published but not yet consumed at the moment of the outage."""
    with Network() as net:
        assert net.kafka is not None, "this test needs the embedded broker it can stop"
        prepare(net)
        heal = Healer(net)
        before = send(net, LOAD // 2)
        assert_exactly_once(net, before, heal)

        net.kafka.stop()
        during = send(net, LOAD // 2)
        assert len(during) == LOAD // 2, "staff requests must be accepted while Kafka is down"
        waiting = query(
            dsn(net, MUNICIPALITY, "referral"),
            "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL",
        )[0]["n"]
        assert waiting >= len(during)

        # The services are frozen while the empty broker comes up and gets its topics, as a
        # durable Kafka would come back with them: the embedded broker creates a topic on the
        # first produce to it, and sends held through the outage would otherwise land in
        # topics of its making and vanish when ours are provisioned.
        with frozen(net):
            net.kafka.start()
            asyncio.run(ensure_topics(KafkaSettings(bootstrap_servers=net.bootstrap_servers)))
        assert_exactly_once(net, before + during, heal)
        assert heal.restarts == [], "no service should have needed a restart"


def test_postgres_restart_under_load() -> None:
    with Network() as net:
        prepare(net)
        heal = Healer(net)
        region_pg = net.principals[REGION].postgres
        assert region_pg is not None

        def restart_region_database(i: int) -> None:
            if i == LOAD // 2:
                region_pg.stop()
                time.sleep(1.0)  # the region's services see a dead database for a moment
                region_pg.start()

        accepted = send(net, LOAD, between=restart_region_database)
        assert_exactly_once(net, accepted, heal)
        assert heal.restarts == [], "services must ride out a database restart without dying"


def test_rebalance_when_one_of_two_replicas_dies() -> None:
    with Network() as net:
        prepare(net)
        original = net.principals[REGION].services["referral"]
        replica = original.replica("b")
        replica.start()
        try:
            replica.wait_ready()
            heal = Healer(net, skip=(original,))
            killed = threading.Event()

            def kill_original(i: int) -> None:
                if i == LOAD // 2:
                    original.kill()
                    killed.set()

            accepted = send(net, LOAD, between=kill_original)
            assert killed.is_set()
            # The replica alone takes over the partitions, the outbox relay and the HTTP side.
            net.principals[REGION].services["referral"] = replica
            assert_exactly_once(net, accepted, heal)
            assert heal.restarts == []
        finally:
            net.principals[REGION].services["referral"] = original
            replica.stop()
