"""Mail over the real broker, database and a local SMTP server: the right mailbox, once, without
personal data; a reminder after the deadline, which skips a public holiday (the clock is moved)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaProducer
from support import (
    HangingUpRelay,
    eventually,
    running,
    school_to_health_centre,
    seed_directory,
    settings,
    signed_headers,
    unique,
)

from samverkan.contracts import CloudEvent
from samverkan.contracts.envelope import LegalBasis
from samverkan.contracts.referral import ReferralSent
from samverkan.devnet.smtp import MailCatcher
from samverkan.notification.app import assemble
from samverkan.notification.clock import ManualClock
from samverkan.notification.deadlines import SWEDEN
from samverkan.notification.settings import NotificationSettings

pytestmark = pytest.mark.integration

PERSONNUMMER = "20120315-1236"
NAME = "Alva Exempel"
REASON = "Oro för nedstämdhet och frånvaro"
WEDNESDAY = datetime(2026, 5, 13, 9, 0, tzinfo=SWEDEN)  # the day before Ascension Day


def _referral(school: str, region: str, sent_at: datetime) -> CloudEvent:
    data = ReferralSent(
        referral_id=uuid4(),
        sender={"principal": school, "function": "skolskoterska"},
        recipient={"principal": region, "function": "uph"},
        need="medical-psychological",
        child={"personnummer": PERSONNUMMER, "name": NAME},
        reason=REASON,
        consent={"decided_by": "child", "purpose": "stöd", "given_at": sent_at},
        sent_at=sent_at,
    )
    return CloudEvent.wrap(
        data, principal=school, service="referral", recipient=region, legalbasis=LegalBasis.CONSENT
    )


def _service(
    database: str, kafka: str, smtp_port: int, clock: ManualClock, poll_interval_s: float = 1.0
) -> Any:
    """A notification service of a new region mailing through 127.0.0.1:`smtp_port`."""
    return assemble(
        settings(
            NotificationSettings,
            principal=unique("region"),
            dsn=database,
            kafka=kafka,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            delivery_poll_interval_s=poll_interval_s,
        ),
        clock,
    )


async def _send(producer: AIOKafkaProducer, event: CloudEvent) -> None:
    await producer.send_and_wait(
        event.topic, event.value(), key=event.key(), headers=signed_headers(event), partition=0
    )


async def test_mail_once_without_personal_data_and_a_reminder_after_the_holiday(
    database: str, kafka_bootstrap: str
) -> None:
    school, region = unique("school"), unique("region")
    clock = ManualClock(WEDNESDAY)
    with MailCatcher() as catcher:
        svc = assemble(
            settings(
                NotificationSettings,
                principal=region,
                dsn=database,
                kafka=kafka_bootstrap,
                smtp_host=catcher.host,
                smtp_port=catcher.port,
                inbox_url="https://inkorg.region.example",
                decision_deadline_working_days=1,
                deadline_poll_interval_s=3600,  # the test runs the check itself
            ),
            clock,
        )
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            async with running(svc.node, svc.app):
                await seed_directory(svc.node, school_to_health_centre(school, region))
                first, second = (
                    _referral(school, region, WEDNESDAY),
                    _referral(school, region, WEDNESDAY),
                )
                await _send(producer, first)
                await _send(producer, first)  # redelivered: same ce_id
                await _send(producer, second)  # after the duplicate, on the same partition

                mails = await catcher.await_for(2, timeout=60)
                assert all(m.rcpt_tos == ("uph@region.example",) for m in mails)
                assert {m.subject for m in mails} == {
                    "Ny remiss till UPH-team / New referral for UPH-team"
                }
                for mail, event in zip(mails, (first, second), strict=True):
                    link = f"https://inkorg.region.example/referrals/{event.data.referral_id}"
                    assert link in mail.body
                # The duplicate came before `second`, on the same partition: it is done with.
                assert len(catcher.messages) == 2
                assert await svc.node.pool.fetchval("SELECT count(*) FROM deliveries") == 2

                # Due at the end of the first working day after Wednesday: Friday, because
                # Thursday is Ascension Day (Kristi himmelsfärdsdag).
                clock.set(datetime(2026, 5, 14, 23, 0, tzinfo=SWEDEN))
                assert await svc.reminders.find_overdue() == 0
                clock.set(datetime(2026, 5, 15, 23, 59, tzinfo=SWEDEN))
                assert await svc.reminders.find_overdue() == 0
                clock.set(datetime(2026, 5, 16, 0, 1, tzinfo=SWEDEN))
                assert await svc.reminders.find_overdue() == 2
                assert await svc.reminders.find_overdue() == 0  # each overdue state once

                mails = await catcher.await_for(4, timeout=60)
                reminders = [m for m in mails if m.subject.startswith("Påminnelse")]
                assert len(reminders) == 2
                assert all(m.rcpt_tos == ("uph@region.example",) for m in reminders)
                assert any(str(first.data.referral_id) in m.body for m in reminders)

                async def overdue_published() -> int | None:
                    n = await svc.node.pool.fetchval(
                        "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
                        " AND headers::text LIKE '%referral-overdue%'"
                    )
                    return n or None

                assert await eventually("overdue events published", overdue_published) == 2
        finally:
            await producer.stop()

    assert len(catcher.messages) == 4
    for mail in catcher.messages:
        raw = mail.raw.decode(errors="replace")
        for secret in (PERSONNUMMER, PERSONNUMMER.replace("-", ""), NAME, "Alva", REASON):
            assert secret not in raw and secret not in mail.body


async def test_an_interrupted_mail_is_uncertain_never_sent_twice(
    database: str, kafka_bootstrap: str
) -> None:
    clock = ManualClock(WEDNESDAY)
    with MailCatcher() as catcher:
        svc = _service(database, kafka_bootstrap, catcher.port, clock)
        async with running(svc.node, svc.app):
            pool = svc.node.pool
            delivery = uuid4()
            # As a worker leaves it when the process dies between claiming and marking sent.
            await pool.execute(
                """INSERT INTO deliveries (id, about_event, about_type, principal, function,
                       mailbox, subject, body, status, attempts, sending_at, next_attempt_at)
                   VALUES ($1, $2, 't', 'region', 'uph', 'uph@x.example', 's', 'b', 'sending', 1,
                           $3, $3)""",
                delivery,
                uuid4(),
                clock.now(),
            )
            assert await svc.mail.recover() == 0  # it may still be in flight
            clock.advance(timedelta(minutes=10))
            assert await svc.mail.recover() == 1
            assert await svc.mail.deliver_one() is False
            row = await pool.fetchrow("SELECT status, last_error FROM deliveries")
            assert row["status"] == "uncertain" and "not repeated" in row["last_error"]
            failed = await pool.fetchval(
                "SELECT count(*) FROM outbox WHERE headers::text LIKE '%notification.failed%'"
            )
            assert failed == 1
        assert catcher.messages == []


async def test_wake_ups_look_for_interrupted_deliveries_once_a_poll_interval(
    database: str, kafka_bootstrap: str
) -> None:
    """Each batch the consumer applies wakes the delivery workers; looking for interrupted
    deliveries (a transaction) on each would cost every event one."""
    with MailCatcher() as catcher:
        svc = _service(
            database, kafka_bootstrap, catcher.port, ManualClock(WEDNESDAY), poll_interval_s=0.2
        )
        looked = 0
        recover = svc.mail.recover

        async def counted() -> int:
            nonlocal looked
            looked += 1
            return await recover()

        svc.mail.recover = counted
        async with running(svc.node, svc.app):
            started = time.monotonic()
            for _ in range(60):  # about three poll intervals
                svc.wake()
                await asyncio.sleep(0.01)
            intervals = (time.monotonic() - started) / svc.node.settings.delivery_poll_interval_s
        # Once on starting, then once a poll interval: not on each of the 60 wake-ups.
        assert 2 <= looked <= 2 + int(intervals)


async def test_a_mail_whose_relay_hangs_up_while_taking_it_is_uncertain_not_repeated(
    database: str, kafka_bootstrap: str
) -> None:
    clock = ManualClock(WEDNESDAY)
    async with HangingUpRelay(nth=1).serving() as relay:
        svc = _service(database, kafka_bootstrap, relay.port, clock)
        async with running(svc.node, svc.app):
            pool = svc.node.pool
            await pool.execute(
                """INSERT INTO deliveries (id, about_event, about_type, principal, function,
                       mailbox, subject, body, status, attempts, next_attempt_at)
                   VALUES ($1, $2, 't', 'region', 'uph', 'uph@x.example', 's', 'b', 'pending', 0,
                           $3)""",
                uuid4(),
                uuid4(),
                clock.now(),
            )
            svc.mail.wakeup.set()  # the service's own delivery worker sends it

            async def settled() -> Any:
                row = await pool.fetchrow("SELECT status, last_error, attempts FROM deliveries")
                return row if row["status"] != "pending" and row["status"] != "sending" else None

            row = await eventually("the delivery to settle", settled)
            assert row["status"] == "uncertain" and "not repeated" in row["last_error"]
            assert row["attempts"] == 1
            clock.advance(timedelta(days=1))  # past any backoff: still nothing to send
            assert await svc.mail.deliver_one() is False
            failed = await pool.fetchval(
                "SELECT count(*) FROM outbox WHERE headers::text LIKE '%notification.failed%'"
            )
            assert failed == 1
    assert len(relay.taken) == 1
