"""A real local SMTP server (aiosmtpd) that captures every delivered mail, for demo and tests."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from dataclasses import dataclass
from typing import Any, Self

from aiosmtpd.controller import Controller

from samverkan.devnet.embedded import free_port


@dataclass(frozen=True)
class CapturedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    body: str
    raw: bytes
    message_id: str | None
    session: str = ""  # the sender's address and port: mails over one SMTP session share it


def parse_mail(
    mail_from: str, rcpt_tos: tuple[str, ...], raw: bytes, session: str = ""
) -> CapturedMail:
    """Parse raw RFC 5322 bytes; ``body`` is the text/plain part ("" if there is none)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    plain = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    message_id = message.get("Message-ID")
    return CapturedMail(
        mail_from=mail_from,
        rcpt_tos=rcpt_tos,
        subject=str(message.get("Subject", "")),
        # Mail arrives with SMTP's CRLF line endings; callers want plain text.
        body=plain.get_content().replace("\r\n", "\n") if plain is not None else "",
        raw=raw,
        message_id=str(message_id).strip() if message_id else None,
        session=session,
    )


class MailCatcher:
    """Accepts SMTP on 127.0.0.1:<free port> and keeps every message in ``messages``."""

    host: str = "127.0.0.1"

    def __init__(self) -> None:
        self.port = 0
        self.messages: list[CapturedMail] = []
        self._arrived = threading.Condition()
        self._controller: Controller | None = None

    def start(self) -> Self:
        if self._controller is None:
            self.port = self.port or free_port()
            controller = Controller(_Handler(self), hostname=self.host, port=self.port)
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def restart(self) -> None:
        """Stop, dropping every open session, and listen again on the same port."""
        self.stop()
        self.start()

    def clear(self) -> None:
        with self._arrived:
            self.messages.clear()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[CapturedMail]:
        """Block until at least ``count`` messages arrived; return a snapshot of all of them."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(self._timeout_text(count, timeout))
            return list(self.messages)

    # The timeout parameter mirrors wait_for so tests can switch between the two freely.
    async def await_for(self, count: int, timeout: float = 20.0) -> list[CapturedMail]:  # noqa: ASYNC109
        """Like wait_for, but polls without blocking the event loop."""
        deadline = time.monotonic() + timeout
        while True:
            with self._arrived:
                if len(self.messages) >= count:
                    return list(self.messages)
            if time.monotonic() >= deadline:
                raise TimeoutError(self._timeout_text(count, timeout))
            await asyncio.sleep(0.05)

    def _deliver(self, mail: CapturedMail) -> None:
        with self._arrived:
            self.messages.append(mail)
            self._arrived.notify_all()

    def _timeout_text(self, count: int, timeout: float) -> str:
        return f"expected {count} mail(s) within {timeout}s, {len(self.messages)} arrived"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self._catcher = catcher

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        try:
            peer = ":".join(str(part) for part in session.peer)
            mail = parse_mail(str(envelope.mail_from), tuple(envelope.rcpt_tos), raw, peer)
        except Exception as exc:
            return f"554 Transaction failed: unparsable message ({exc})"
        self._catcher._deliver(mail)
        return "250 Message accepted for delivery"
