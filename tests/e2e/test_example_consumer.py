"""The integrators' example consumer (contracts/examples/consumer.py) against a live demo network."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer

from samverkan.contracts import topics
from samverkan.contracts.examples import envelope
from samverkan.contracts.referral import ReferralSent
from samverkan.devnet import scenario
from samverkan.devnet.network import Network

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "contracts" / "examples" / "consumer.py"
REFERRAL_TYPES = [f"se.samverkan.referral.{e}.v1" for e in ("sent", "received", "accepted")]


@pytest.fixture(scope="module")
def referral_id(kafka_bootstrap: str) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
        with Network() as net:
            yield scenario.run(net, say=lambda _: None).referral_id


async def _send_invalid(bootstrap: str, key: str) -> None:
    """A referral.sent whose payload breaks its schema, with a valid envelope."""
    event = envelope(ReferralSent)
    headers = [(k, str(uuid4()).encode() if k == "ce_id" else v) for k, v in event.headers()]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        value = b'{"referral_id": "' + key.encode() + b'"}'
        await producer.send_and_wait(topics.REFERRAL, value, key=key.encode(), headers=headers)
    finally:
        await producer.stop()


def _lines_until(
    path: Path, done: Callable[[list[list[str]]], bool], timeout: float = 60.0
) -> list[list[str]]:
    deadline = time.monotonic() + timeout
    while True:
        lines = [line.split() for line in path.read_text().splitlines()]
        if done(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def test_example_consumer_validates_and_prints_the_referral_in_order(
    referral_id: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    poison_key = f"example-consumer-test-{uuid4()}"
    asyncio.run(_send_invalid(kafka_bootstrap, poison_key))
    out = tmp_path / "stdout"
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "GROUP_ID": f"it.{uuid4()}"}
    with out.open("w") as stdout:
        process = subprocess.Popen([sys.executable, str(EXAMPLE)], env=env, stdout=stdout)
    try:
        lines = _lines_until(
            out,
            lambda ls: (
                sum(line[2] == referral_id for line in ls) >= 3
                and any(line[2] == poison_key for line in ls)
            ),
        )
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    ours = [line[:2] for line in lines if line[2] == referral_id]
    assert ours == [["valid", t] for t in REFERRAL_TYPES], lines
    assert [line[:2] for line in lines if line[2] == poison_key] == [
        ["invalid:ValidationError", REFERRAL_TYPES[0]]
    ]
