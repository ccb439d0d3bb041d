"""The mail relay session: kept for the mails that follow, replaced when idle or dropped."""

import asyncio
from email.message import EmailMessage
from uuid import uuid4

import aiosmtplib
import pytest
from support import HangingUpRelay, settings

from samverkan.devnet.smtp import MailCatcher
from samverkan.notification import mailer
from samverkan.notification.settings import NotificationSettings

pytestmark = pytest.mark.unit


def _relay(catcher: MailCatcher | HangingUpRelay, keep_alive_s: float) -> mailer.Relay:
    return mailer.Relay(
        settings(
            NotificationSettings,
            principal="vastra-regionen",
            dsn="postgresql://unused@127.0.0.1/unused",  # only the relay is used here
            kafka="127.0.0.1:9",
            smtp_host=catcher.host,
            smtp_port=catcher.port,
            smtp_keep_alive_s=keep_alive_s,
        )
    )


def _mail(n: int) -> EmailMessage:
    return mailer.build(
        mail_from="samverkan@region.example",
        to="vardcentral@region.example",
        subject=f"Ny remiss {n}",
        body="Logga in för att se den.",
        delivery_id=uuid4(),
    )


async def _send(relay: mailer.Relay, count: int) -> None:
    for n in range(count):
        await relay.send(_mail(n))


async def test_mails_that_follow_each_other_share_one_session() -> None:
    with MailCatcher() as catcher:
        relay = _relay(catcher, keep_alive_s=30)
        await _send(relay, 3)
        await relay.close()
        mails = await catcher.await_for(3)
    assert [m.subject for m in mails] == ["Ny remiss 0", "Ny remiss 1", "Ny remiss 2"]
    assert len({m.session for m in mails}) == 1


async def test_without_keep_alive_each_mail_has_its_own_session() -> None:
    with MailCatcher() as catcher:
        relay = _relay(catcher, keep_alive_s=0)
        await _send(relay, 3)
        mails = await catcher.await_for(3)
    assert len({m.session for m in mails}) == 3


async def test_a_session_idle_past_keep_alive_is_replaced() -> None:
    with MailCatcher() as catcher:
        relay = _relay(catcher, keep_alive_s=0.2)
        await _send(relay, 1)
        await asyncio.sleep(0.4)
        await _send(relay, 1)
        await relay.close()
        mails = await catcher.await_for(2)
    assert len({m.session for m in mails}) == 2


async def test_a_session_the_relay_dropped_is_replaced_at_once() -> None:
    with MailCatcher() as catcher:
        relay = _relay(catcher, keep_alive_s=30)
        await _send(relay, 1)
        catcher.restart()  # ends every open session, listens again on the same port
        await _send(relay, 1)  # no error: a new session takes it
        await relay.close()
        mails = await catcher.await_for(2)
    assert len({m.session for m in mails}) == 2


async def test_a_relay_that_is_away_is_an_error_and_the_next_mail_tries_again() -> None:
    with MailCatcher() as catcher:
        relay = _relay(catcher, keep_alive_s=30)
        catcher.stop()
        with pytest.raises(OSError):
            await _send(relay, 1)
        catcher.start()
        await _send(relay, 1)
        await relay.close()
        mails = await catcher.await_for(1)
    assert [m.subject for m in mails] == ["Ny remiss 0"]


async def test_a_mail_whose_session_breaks_while_handed_over_is_not_sent_again() -> None:
    async with HangingUpRelay(nth=2).serving() as hanging_up:
        relay = _relay(hanging_up, keep_alive_s=30)
        await _send(relay, 1)
        with pytest.raises(mailer.HandOverBroken):
            await _send(relay, 1)
        await relay.close()
    assert len(hanging_up.taken) == 2  # the relay has the mail once; it must not be sent again


@pytest.mark.parametrize(
    "saying", [b"", b"421 4.3.2 closing\r\n"], ids=["hung up", "closing (421)"]
)
async def test_a_kept_session_that_ends_before_the_mail_is_sent_passes_it_to_a_new_one(
    saying: bytes,
) -> None:
    async with HangingUpRelay(nth=2, at=b"MAIL", saying=saying).serving() as hanging_up:
        relay = _relay(hanging_up, keep_alive_s=30)
        await _send(relay, 2)  # the second: MAIL on the kept session ends it, then a new one
        await relay.close()
    assert hanging_up.mails == 3
    assert len(hanging_up.taken) == 2  # each mail once


async def test_a_mail_goes_to_one_new_session_only() -> None:
    async with HangingUpRelay(nth={2, 3}, at=b"MAIL").serving() as hanging_up:
        relay = _relay(hanging_up, keep_alive_s=30)
        await _send(relay, 1)
        with pytest.raises(OSError) as raised:
            await _send(relay, 1)  # hung up on, on the kept session and then on a new one
        assert not isinstance(raised.value, mailer.HandOverBroken)
        await relay.close()
    assert hanging_up.mails == 3 and len(hanging_up.taken) == 1


async def test_a_closing_reply_to_the_content_is_not_passed_to_a_new_session() -> None:
    closing = b"421 4.3.2 closing\r\n"
    async with HangingUpRelay(nth=2, at=b"DATA", saying=closing).serving() as hanging_up:
        relay = _relay(hanging_up, keep_alive_s=30)
        await _send(relay, 1)
        with pytest.raises(aiosmtplib.SMTPDataError):
            await _send(relay, 1)  # after DATA: left to the delivery's retries, not sent at once
        await relay.close()
    assert hanging_up.mails == 2 and len(hanging_up.taken) == 2


async def test_a_refusal_on_a_kept_session_is_not_passed_to_a_new_one() -> None:
    async with HangingUpRelay(nth=2, at=b"MAIL", saying=b"550 5.7.1 no\r\n").serving() as relay_:
        relay = _relay(relay_, keep_alive_s=30)
        await _send(relay, 1)
        with pytest.raises(aiosmtplib.SMTPSenderRefused):
            await _send(relay, 1)
        await relay.close()
    assert relay_.mails == 2 and len(relay_.taken) == 1


async def test_a_new_session_that_breaks_before_the_mail_is_sent_is_an_ordinary_failure() -> None:
    async with HangingUpRelay(nth=1, at=b"MAIL").serving() as hanging_up:
        relay = _relay(hanging_up, keep_alive_s=30)
        with pytest.raises(OSError) as raised:
            await _send(relay, 1)  # MAIL is hung up on: the relay cannot have the mail
        assert not isinstance(raised.value, mailer.HandOverBroken)
        await _send(relay, 1)  # so it may be sent again, on a new session
        await relay.close()
    assert len(hanging_up.taken) == 1
