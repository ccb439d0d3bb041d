"""Notification use cases: record what to send (with the event), then deliver it (a worker)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from uuid import UUID, uuid4

import aiosmtplib
import asyncpg

from samverkan.contracts import CloudEvent
from samverkan.contracts.notification import NotificationSent
from samverkan.contracts.referral import ReferralSent
from samverkan.notification import messages
from samverkan.notification.settings import NotificationSettings
from samverkan.runtime import directory_view
from samverkan.runtime.consumer import NotYet, Refused
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.node import Node

log = logging.getLogger(__name__)


async def referral_arrived(
    settings: NotificationSettings, tx: UnitOfWork, event: CloudEvent
) -> None:
    sent = event.data
    assert isinstance(sent, ReferralSent)
    if sent.recipient.principal != event.recipientprincipal:
        raise Refused("the recipient function belongs to another principal than the event names")
    try:
        function = await directory_view.function(tx.conn, sent.recipient, date.today())
    except directory_view.NoRoute as exc:
        raise NotYet(str(exc)) from None  # our directory copy may lag behind the sender's
    mail = messages.referral_arrived(
        function_name=function.name,
        unit_name=function.unit_name,
        referral_id=sent.referral_id,
        inbox_url=settings.inbox_url,
    )
    await tx.conn.execute(
        """INSERT INTO deliveries (id, about_event, about_type, principal, function, mailbox,
                                   subject, body)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (about_event) DO NOTHING""",
        uuid4(),
        event.id,
        event.type,
        function.principal,
        function.function,
        function.mailbox,
        mail.subject,
        mail.body,
    )


class Deliverer:
    """Sends due mails. Each mail is sent inside the transaction that marks it sent, so a crash
    re-sends it at worst; the Message-ID is stable, so mail systems can drop the duplicate."""

    def __init__(self, node: Node, settings: NotificationSettings) -> None:
        self._node = node
        self._settings = settings
        self.wakeup = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                while await self.deliver_due() > 0:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("delivery paused: %s: %s", type(exc).__name__, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), self._settings.delivery_poll_interval_s)
            self.wakeup.clear()

    async def deliver_due(self) -> int:
        async with self._node.uow() as tx:
            row = await tx.conn.fetchrow(
                """SELECT * FROM deliveries WHERE status = 'pending' AND next_attempt_at <= now()
                   ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED"""
            )
            if row is None:
                return 0
            try:
                await self._send(row)
            except Exception as exc:  # one bad row must not block every mail behind it
                await self._failed_attempt(tx, row, exc)
                return 1
            now = datetime.now(UTC)
            await tx.conn.execute(
                "UPDATE deliveries SET status = 'sent', sent_at = $2, attempts = attempts + 1"
                " WHERE id = $1",
                row["id"],
                now,
            )
            await tx.publish(
                self._node.event(
                    NotificationSent(
                        notification_id=row["id"],
                        about_event=row["about_event"],
                        about_type=row["about_type"],
                        principal=row["principal"],
                        function=row["function"],
                        channel="email",
                        sent_at=now,
                    )
                )
            )
        log.info("mail sent to function %s/%s", row["principal"], row["function"])
        return 1

    async def _send(self, row: asyncpg.Record) -> None:
        s = self._settings
        message = EmailMessage()
        message["From"] = s.mail_from
        message["To"] = row["mailbox"]
        message["Subject"] = row["subject"]
        message["Message-ID"] = _message_id(row["id"])
        message.set_content(row["body"])
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            start_tls=s.smtp_starttls,
            use_tls=s.smtp_tls,
            timeout=30,
        )

    async def _failed_attempt(self, tx: UnitOfWork, row: asyncpg.Record, exc: Exception) -> None:
        attempts = row["attempts"] + 1
        retryable = isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError)
        limit_reached = attempts >= self._settings.delivery_max_attempts
        status = "pending" if retryable and not limit_reached else "failed"
        delay = timedelta(seconds=min(2**attempts, 900))
        log.warning(
            "mail to %s/%s failed (%s), attempt %d",
            row["principal"],
            row["function"],
            type(exc).__name__,
            attempts,
        )
        await tx.conn.execute(
            """UPDATE deliveries SET attempts = $2, status = $3, last_error = $4,
                                     next_attempt_at = now() + $5 WHERE id = $1""",
            row["id"],
            attempts,
            status,
            f"{type(exc).__name__}: {exc}"[:500],
            delay,
        )


def _message_id(delivery_id: UUID) -> str:
    return f"<{delivery_id}@samverkan>"
