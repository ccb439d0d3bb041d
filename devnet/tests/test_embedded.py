"""Integration tests for the embedded Kafka, Postgres and SMTP servers of the devnet."""

from __future__ import annotations

import json
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from samverkan.devnet.embedded import EmbeddedKafka, EmbeddedPostgres, free_port
from samverkan.devnet.smtp import MailCatcher

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def postgres() -> Iterator[EmbeddedPostgres]:
    with EmbeddedPostgres() as pg:
        yield pg


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def _refuses(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


async def test_kafka_round_trip_with_headers() -> None:
    with EmbeddedKafka() as kafka:
        assert kafka.bootstrap_servers == f"127.0.0.1:{kafka.port}"
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic("devnet.test", 1, 1)])
        finally:
            await admin.close()

        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await producer.start()
        try:
            await producer.send_and_wait(
                "devnet.test",
                b'{"hej": "v\xc3\xa4rlden"}',
                key=b"k1",
                headers=[("ce_type", b"se.samverkan.test"), ("ce_id", b"42")],
            )
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            "devnet.test",
            bootstrap_servers=kafka.bootstrap_servers,
            group_id="devnet-test",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            record = await consumer.getone()
        finally:
            await consumer.stop()
        assert record.key == b"k1"
        assert json.loads(record.value) == {"hej": "världen"}
        assert dict(record.headers) == {"ce_type": b"se.samverkan.test", "ce_id": b"42"}
    assert not kafka.running
    assert not kafka.workdir.exists()
    assert _refuses(kafka.port)


def test_kafka_stop_start_keeps_port_and_kill_is_hard() -> None:
    kafka = EmbeddedKafka().start()
    try:
        first_pid = kafka.pid
        assert first_pid is not None and not _refuses(kafka.port)
        kafka.start()  # idempotent
        assert kafka.pid == first_pid
        kafka.stop()
        kafka.stop()  # idempotent
        assert _refuses(kafka.port) and not _alive(first_pid)
        # From a thread that exits right away: PDEATHSIG must not take the broker with it.
        starter = threading.Thread(target=kafka.start)
        starter.start()
        starter.join()
        time.sleep(0.3)
        assert kafka.running and not _refuses(kafka.port)
        second_pid = kafka.pid
        assert second_pid is not None and second_pid != first_pid
        kafka.kill()
        assert not _alive(second_pid) and _refuses(kafka.port)
    finally:
        kafka.cleanup()


async def _write(dsn: str, value: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS t (id serial PRIMARY KEY, v text)")
        await conn.execute("INSERT INTO t (v) VALUES ($1)", value)
    finally:
        await conn.close()


async def _read(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [row["v"] for row in await conn.fetch("SELECT v FROM t ORDER BY id")]
    finally:
        await conn.close()


async def test_postgres_stop_start_keeps_data_and_port(postgres: EmbeddedPostgres) -> None:
    dsn = postgres.create_database("restart_db")
    assert dsn == f"postgresql://postgres@127.0.0.1:{postgres.port}/restart_db"
    assert postgres.create_database("restart_db") == dsn  # existing database is fine
    await _write(dsn, "före omstart")
    port, pid = postgres.port, postgres.pid
    assert pid is not None

    postgres.stop()
    assert not postgres.running and _refuses(port) and not _alive(pid)
    with pytest.raises(OSError):
        await asyncpg.connect(dsn, timeout=2)

    postgres.start()
    assert postgres.port == port and postgres.pid != pid
    assert await _read(dsn) == ["före omstart"]


async def test_postgres_kill_then_start_recovers(postgres: EmbeddedPostgres) -> None:
    dsn = postgres.create_database("kill_db")
    await _write(dsn, "committed")
    # An open idle connection has a backend that must not block the restart.
    idle = await asyncpg.connect(dsn)
    pid = postgres.pid
    assert pid is not None

    postgres.kill()
    assert not _alive(pid) and _refuses(postgres.port)
    with pytest.raises((asyncpg.PostgresError, OSError, asyncpg.InterfaceError)):
        await idle.fetchval("SELECT 1")
    idle.terminate()

    postgres.start()
    assert await _read(dsn) == ["committed"]
    await _write(dsn, "after crash")
    assert await _read(dsn) == ["committed", "after crash"]


def test_postgres_cleanup_removes_owned_workdir() -> None:
    pg = EmbeddedPostgres().start()
    workdir = pg.workdir
    assert (pg.data_dir / "PG_VERSION").exists()
    pg.cleanup()
    assert not workdir.exists() and _refuses(pg.port)


_ORPHAN_SCRIPT = """
import json, time
from samverkan.devnet.embedded import EmbeddedKafka, EmbeddedPostgres, free_port
kafka, pg = EmbeddedKafka().start(), EmbeddedPostgres().start()
print(json.dumps([kafka.pid, pg.pid, str(kafka.workdir), str(pg.workdir)]), flush=True)
time.sleep(120)
"""


def test_children_die_when_parent_is_sigkilled() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHAN_SCRIPT], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert parent.stdout is not None
        kafka_pid, pg_pid, *workdirs = json.loads(parent.stdout.readline())
        assert _alive(kafka_pid) and _alive(pg_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while (_alive(kafka_pid) or _alive(pg_pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(kafka_pid) and not _alive(pg_pid)
    finally:
        parent.kill()
        parent.wait()
    for workdir in workdirs:  # atexit never ran in the killed parent
        shutil.rmtree(workdir, ignore_errors=True)


def test_atexit_stops_servers_and_removes_workdirs() -> None:
    script = _ORPHAN_SCRIPT.replace("time.sleep(120)", "")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    kafka_pid, pg_pid, *workdirs = json.loads(done.stdout)
    assert not _alive(kafka_pid) and not _alive(pg_pid)
    assert not any(Path(workdir).exists() for workdir in workdirs)


def test_mail_catcher_receives_and_parses_smtp() -> None:
    with MailCatcher() as catcher:
        assert catcher.port > 0
        message = EmailMessage()
        message["From"] = "noreply@samverkan.test"
        message["To"] = "handlaggare@kommun.test"
        message["Subject"] = "Ny remiss från elevhälsan"
        message["Message-ID"] = "<abc-123@samverkan.test>"
        message.set_content("Hej!\nEn ny remiss väntar på dig.\n")
        message.add_alternative("<p>Hej! <b>En ny remiss</b></p>", subtype="html")
        with smtplib.SMTP(catcher.host, catcher.port, timeout=10) as client:
            client.send_message(message, to_addrs=["handlaggare@kommun.test", "cc@kommun.test"])

        [mail] = catcher.wait_for(1, timeout=10)
        assert mail.mail_from == "noreply@samverkan.test"
        assert mail.rcpt_tos == ("handlaggare@kommun.test", "cc@kommun.test")
        assert mail.subject == "Ny remiss från elevhälsan"
        assert mail.body == "Hej!\nEn ny remiss väntar på dig.\n"
        assert mail.message_id == "<abc-123@samverkan.test>"
        assert b"text/html" in mail.raw
        with pytest.raises(TimeoutError, match="1 arrived"):
            catcher.wait_for(2, timeout=0.2)


async def test_mail_catcher_await_for() -> None:
    with MailCatcher() as catcher:
        with smtplib.SMTP(catcher.host, catcher.port, timeout=10) as client:
            client.sendmail("a@x.test", ["b@y.test"], b"Subject: ping\r\n\r\npong\r\n")
        mails = await catcher.await_for(1, timeout=10)
        assert [(m.subject, m.body.strip(), m.message_id) for m in mails] == [
            ("ping", "pong", None)
        ]


@pytest.mark.skipif(
    not Path("/proc/sys/net/ipv4/ip_local_port_range").exists(),
    reason="the ephemeral port range is read from Linux's /proc; elsewhere free_port binds port 0"
    " as it always did, which the other tests here use",
)
def test_free_ports_lie_below_the_range_outgoing_connections_take() -> None:
    """An outgoing connection cannot take a port between free_port() and the server binding it."""
    floor = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {free_port() for _ in range(20)}
    assert all(10_000 <= port < floor for port in ports)
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))  # still free
