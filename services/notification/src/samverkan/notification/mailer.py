"""Building mails and sending them over SMTP; header values are checked, never trusted."""

from __future__ import annotations

import logging
import re
import time
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any
from uuid import UUID

import aiosmtplib
from aiosmtplib.response import SMTPResponse

from samverkan.notification.settings import NotificationSettings

log = logging.getLogger(__name__)

_QUIT_TIMEOUT_S = 5.0  # on the way out a slow relay may not hold up shutdown
_CLOSING = 421  # "service not available, closing transmission channel"

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


class _FoldedOnce(BaseHeader):
    """A header that folds itself once per way of folding: header objects never change. The way
    is the three settings folding reads, not the policy object: aiosmtplib clones a policy for
    every mail sent to a relay without 8BITMIME."""

    def fold(self, *, policy: EmailPolicy) -> str:
        folded: dict[tuple[object, ...], str] = self.__dict__.setdefault("_folded", {})
        way = (policy.max_line_length, policy.linesep, policy.utf8)
        if way not in folded:
            folded[way] = super().fold(policy=policy)
        return folded[way]


class _ParsedOnce(HeaderRegistry):
    """Header objects, parsed once for each name and value.

    The email package parses every header it is given, builds a header class for it, and folds it
    again each time a message is written: half a millisecond a mail, most of the notification
    service's time while it catches up. A notification's headers repeat from mail to mail (sender,
    mailbox, subject, content type), and header objects are immutable, so they are shared; the
    bytes written are the same. Message-ID, new for every mail, is not kept."""

    _LIMIT = 4096

    def __init__(self) -> None:
        super().__init__(base_class=_FoldedOnce)
        self._classes: dict[str, type[BaseHeader]] = {}
        self._parsed: dict[tuple[str, str], BaseHeader] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        if name not in self._classes:
            self._classes[name] = super().__getitem__(name)
        return self._classes[name]

    def __call__(self, name: str, value: str) -> BaseHeader:
        if name.lower() == "message-id":
            return self[name](name, value)
        key = (name, value)
        if key not in self._parsed:
            if len(self._parsed) >= self._LIMIT:
                self._parsed.clear()  # a bound, for a node with very many functions
            self._parsed[key] = self[name](name, value)
        return self._parsed[key]


_POLICY = policy.default.clone(header_factory=_ParsedOnce())


def build(*, mail_from: str, to: str, subject: str, body: str, delivery_id: UUID) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    message["From"] = _address(mail_from, "the sender address")
    message["To"] = _address(to, "the mailbox")
    message["Subject"] = _text(subject, "the subject")
    message["Message-ID"] = f"<{delivery_id}@samverkan>"
    message.set_content(body)
    return message


class HandOverBroken(Exception):
    """The session broke while a mail was being handed over: the relay may or may not have it."""


class _Session(aiosmtplib.SMTP):
    """An SMTP session that notes when a mail's content is on its way (DATA): a session that
    breaks before then (at MAIL or RCPT) cannot have delivered it."""

    handing_over = False

    async def data(self, message: str | bytes, /, **options: Any) -> SMTPResponse:
        self.handing_over = True
        return await super().data(message, **options)


class Relay:
    """One SMTP session to the mail relay, reused for the next mail when it follows within
    `smtp_keep_alive_s` (0: a session per mail). Mails go one at a time (one delivery worker).

    Once a mail's content is on its way (DATA), a session that breaks (hang-up, timeout) raises
    HandOverBroken: the relay may already have the mail, so it must not be sent again. A session
    that breaks before then, and a relay that answers with a refusal, do not have it. So a kept
    session is not probed before it takes a mail (NOOP cost every mail a round trip): if the
    relay closed it meanwhile, that shows before DATA, and the mail goes on a new session at once."""

    def __init__(self, settings: NotificationSettings) -> None:
        self._settings = settings
        self._smtp: _Session | None = None
        self._last_used = 0.0

    async def send(self, message: EmailMessage) -> None:
        kept = self._kept()
        if kept is not None:
            try:
                await self._send_on(kept, message)
                return
            except (OSError, TimeoutError) as exc:  # before DATA: the relay has nothing
                log.info(
                    "the kept session to the mail relay had ended (%r); opening a new one", exc
                )
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code != _CLOSING or kept.handing_over:
                    raise
                log.info("the mail relay is closing the kept session; opening a new one")
        await self._send_on(await self._connect(), message)

    async def _send_on(self, smtp: _Session, message: EmailMessage) -> None:
        self._smtp = smtp
        smtp.handing_over = False
        try:
            try:
                await smtp.send_message(message)
            except (OSError, TimeoutError) as exc:  # aiosmtplib's hang-ups and timeouts too
                if smtp.handing_over:
                    raise HandOverBroken(type(exc).__name__) from exc
                raise
        except BaseException:
            self._drop()
            raise
        self._last_used = time.monotonic()
        if self._settings.smtp_keep_alive_s == 0:
            await self.close()

    async def close(self) -> None:
        """End the kept session politely (QUIT), if there is one."""
        smtp, self._smtp = self._smtp, None
        if smtp is None or not smtp.is_connected:
            return
        try:
            await smtp.quit(timeout=_QUIT_TIMEOUT_S)
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            pass
        finally:
            smtp.close()

    def _kept(self) -> _Session | None:
        """The kept session if it may take the next mail; otherwise it is let go."""
        smtp = self._smtp
        if smtp is None:
            return None
        fresh = time.monotonic() - self._last_used < self._settings.smtp_keep_alive_s
        if fresh and smtp.is_connected:
            return smtp
        self._drop()
        return None

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    async def _connect(self) -> _Session:
        s = self._settings
        smtp = _Session(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            start_tls=s.smtp_starttls,
            use_tls=s.smtp_tls,
            timeout=s.smtp_timeout_s,
        )
        await smtp.connect()
        return smtp
