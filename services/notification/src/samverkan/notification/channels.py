"""The two ways of telling: a mail to a functional mailbox, a signed call to an integrator."""

from __future__ import annotations

from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import aiosmtplib
import httpx
from standardwebhooks import Webhook

from samverkan.contracts.events import Event
from samverkan.contracts.notification import NotificationFailed, NotificationSent
from samverkan.notification import mailer
from samverkan.notification.delivery import DeliveryError
from samverkan.notification.settings import NotificationSettings
from samverkan.notification.webhook_payload import CONTENT_TYPE
from samverkan.runtime.node import Node


class MailChannel:
    name = "email"
    table = "deliveries"

    def __init__(self, settings: NotificationSettings) -> None:
        self._settings = settings
        self._relay = mailer.Relay(settings)
        self.max_attempts = settings.delivery_max_attempts

    async def send(self, row: Any) -> None:
        try:
            message = mailer.build(
                mail_from=self._settings.mail_from,
                to=row["mailbox"],
                subject=row["subject"],
                body=row["body"],
                delivery_id=row["id"],
            )
        except mailer.UnsafeHeader as exc:
            raise DeliveryError(f"refused: {exc}", retryable=False) from None
        try:
            await self._relay.send(message)
        except mailer.HandOverBroken as exc:
            raise DeliveryError(
                f"outcome unknown: the SMTP session broke ({exc}) while handing the mail over;"
                " not repeated",
                retryable=False,
                uncertain=True,
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.code}", retryable=True) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(type(exc).__name__, retryable=True) from None

    async def close(self) -> None:
        await self._relay.close()

    def sent(self, row: Any, at: datetime) -> Event:
        return NotificationSent(
            notification_id=row["id"],
            about_event=row["about_event"],
            about_type=row["about_type"],
            principal=row["principal"],
            function=row["function"],
            channel=self.name,
            sent_at=at,
        )

    def failed(self, row: Any, at: datetime, reason: str, attempt: int) -> Event:
        return NotificationFailed(
            notification_id=row["id"],
            about_event=row["about_event"],
            about_type=row["about_type"],
            principal=row["principal"],
            function=row["function"],
            channel=self.name,
            attempt=max(attempt, 1),
            will_retry=False,
            reason=reason,
            failed_at=at,
        )

    def recipient(self, row: Any) -> str:
        return f"function {row['principal']}/{row['function']}"


def signature_headers(secret: str, message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: HMAC-SHA256 over "<id>.<timestamp>.<body>"."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body.decode()),
    }


class WebhookChannel:
    name = "webhook"
    table = "webhook_deliveries"

    def __init__(self, settings: NotificationSettings, node: Node) -> None:
        self._settings = settings
        self._node = node
        self._client: httpx.AsyncClient | None = None  # its connections are kept between calls
        self.max_attempts = settings.webhook_max_attempts

    async def send(self, row: Any) -> None:
        subscription = await self._node.pool.fetchrow(
            "SELECT url, secret, deleted_at FROM webhook_subscriptions WHERE id = $1",
            row["subscription_id"],
        )
        if subscription is None or subscription["deleted_at"] is not None:
            raise DeliveryError("the subscription was deleted", retryable=False)
        body: bytes = row["payload"]
        # The signature's timestamp is for the receiver's replay check: real time, not the clock
        # that schedules deliveries.
        headers = signature_headers(subscription["secret"], str(row["id"]), body, datetime.now(UTC))
        headers["content-type"] = CONTENT_TYPE
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._settings.webhook_timeout_s,
                # A kept client must not carry one receiver's cookies to the next call.
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            )
        try:
            response = await self._client.post(subscription["url"], content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(type(exc).__name__, retryable=True) from None
        if not response.is_success:
            raise DeliveryError(
                f"HTTP {response.status_code}", retryable=True, status_code=response.status_code
            )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def sent(self, row: Any, at: datetime) -> Event:
        return NotificationSent(
            notification_id=row["id"],
            about_event=row["about_event"],
            about_type=row["about_type"],
            principal=self._node.principal,
            channel=self.name,
            subscription_id=row["subscription_id"],
            sent_at=at,
        )

    def failed(self, row: Any, at: datetime, reason: str, attempt: int) -> Event:
        return NotificationFailed(
            notification_id=row["id"],
            about_event=row["about_event"],
            about_type=row["about_type"],
            principal=self._node.principal,
            channel=self.name,
            subscription_id=row["subscription_id"],
            attempt=max(attempt, 1),
            will_retry=False,
            reason=reason,
            failed_at=at,
        )

    def recipient(self, row: Any) -> str:
        return f"subscription {row['subscription_id']}"
