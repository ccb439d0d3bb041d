"""Building and sending one mail over SMTP; header values are checked, never trusted."""

from __future__ import annotations

import re
from email.message import EmailMessage
from uuid import UUID

import aiosmtplib

from samverkan.notification.settings import NotificationSettings

_ADDRESS = re.compile(r"^[^\s@<>,;\"()\[\]\\]+@[^\s@<>,;\"()\[\]\\]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnsafeHeader(ValueError):
    """A header value that could inject headers or recipients; the mail is never sent."""


def _address(value: str, what: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise UnsafeHeader(f"{what} is not a single plain mail address")
    return value


def _text(value: str, what: str) -> str:
    if _CONTROL.search(value):
        raise UnsafeHeader(f"{what} holds a line break or control character")
    return value


def build(*, mail_from: str, to: str, subject: str, body: str, delivery_id: UUID) -> EmailMessage:
    message = EmailMessage()
    message["From"] = _address(mail_from, "the sender address")
    message["To"] = _address(to, "the mailbox")
    message["Subject"] = _text(subject, "the subject")
    message["Message-ID"] = f"<{delivery_id}@samverkan>"
    message.set_content(body)
    return message


async def send(settings: NotificationSettings, message: EmailMessage) -> None:
    s = settings
    await aiosmtplib.send(
        message,
        hostname=s.smtp_host,
        port=s.smtp_port,
        username=s.smtp_username,
        password=s.smtp_password.get_secret_value() if s.smtp_password else None,
        start_tls=s.smtp_starttls,
        use_tls=s.smtp_tls,
        timeout=s.smtp_timeout_s,
    )
