"""Mail texts carry no personal data, and nothing from an event can reach a mail header."""

from email.message import EmailMessage
from uuid import uuid4

import pytest
from aiosmtplib.email import flatten_message

from samverkan.notification import mailer, messages

pytestmark = pytest.mark.unit


def test_swedish_first_then_english() -> None:
    ref = uuid4()
    mail = messages.render(
        "referral-arrived",
        function_name="UPH-team",
        unit_name="Vårdcentralen Hamnen",
        reference=ref,
        link=f"https://inkorg.example/referrals/{ref}",
    )
    assert mail.subject == "Ny remiss till UPH-team / New referral for UPH-team"
    sv, en = mail.body.split("\n---\n")
    assert f"Referens: {ref}" in sv and "inga personuppgifter" in sv
    assert f"Reference: {ref}" in en and f"https://inkorg.example/referrals/{ref}" in en


def test_english_stands_alone_where_swedish_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    sv = dict(messages.TEMPLATES["sv"])
    del sv["concern-feedback"]
    monkeypatch.setitem(messages.TEMPLATES, "sv", sv)
    mail = messages.render(
        "concern-feedback", function_name="Kurator", unit_name="Skolan", reference=uuid4(), link="x"
    )
    assert mail.subject == "Feedback on a report of concern"
    assert "---" not in mail.body


def test_status_words_are_translated() -> None:
    mail = messages.render(
        "referral-reminder",
        function_name="UPH",
        unit_name="VC",
        reference=uuid4(),
        link="x",
        status="not-decided",
    )
    assert "har inte beslutats" in mail.body and "was not decided" in mail.body


def test_directory_names_with_line_breaks_never_break_the_subject() -> None:
    mail = messages.render(
        "referral-arrived",
        function_name="UPH\r\nBcc: spy@evil.example",
        unit_name="VC",
        reference=uuid4(),
        link="x",
    )
    assert "\n" not in mail.subject and "\r" not in mail.subject
    mailer.build(
        mail_from="a@b.se", to="c@d.se", subject=mail.subject, body="x", delivery_id=uuid4()
    )


@pytest.mark.parametrize(
    ("to", "subject"),
    [
        ("uph@region.example\r\nBcc: spy@evil.example", "ok"),
        ("uph@region.example, spy@evil.example", "ok"),
        ("uph@region.example", "Ny remiss\nBcc: spy@evil.example"),
    ],
)
def test_builder_refuses_header_injection(to: str, subject: str) -> None:
    with pytest.raises(mailer.UnsafeHeader):
        mailer.build(mail_from="a@b.se", to=to, subject=subject, body="x", delivery_id=uuid4())


def _arrived(function_name: str) -> messages.Mail:
    return messages.render(
        "referral-arrived",
        function_name=function_name,
        unit_name="Vårdcentralen Sjöstad",
        reference=uuid4(),
        link="https://inkorg.example/referrals/x",
    )


def _built_and_plain(mail: messages.Mail) -> tuple[EmailMessage, EmailMessage]:
    """The mail as the builder makes it, and as the email package makes it unaided."""
    built = mailer.build(
        mail_from="samverkan@sjostad.example",
        to="uph@region.example",
        subject=mail.subject,
        body=mail.body,
        delivery_id=uuid4(),
    )
    plain = EmailMessage()
    for name in ("From", "To", "Subject", "Message-ID"):
        plain[name] = str(built[name])
    plain.set_content(mail.body)
    return built, plain


def test_headers_parsed_once_write_what_the_email_package_writes() -> None:
    """The builder shares parsed headers between mails; the bytes must not notice."""
    mails = [
        _arrived(name)
        for name in ("Ungdomsmottagningen Sjöstad med en mycket lång funktionsbeteckning", "UPH")
    ]
    written = []
    for mail in [*mails, *mails]:  # the second round meets headers parsed before
        built, plain = _built_and_plain(mail)
        written.append(flatten_message(built))
        assert written[-1] == flatten_message(plain)
    assert any(b"\r\n " in mail for mail in written)  # a long subject was folded too


def test_a_relay_without_8bitmime_gets_the_same_bytes_and_the_cache_stays_small() -> None:
    """aiosmtplib clones the policy for each such mail: one fold each way, not one per clone."""
    built, plain = _built_and_plain(_arrived("Ungdomsmottagningen Sjöstad"))
    for _ in range(5):
        assert flatten_message(built, cte_type="7bit") == flatten_message(plain, cte_type="7bit")
    assert flatten_message(built) == flatten_message(plain)
    # One fold per way (7-bit, 8-bit), however many clones: keyed by the clone, it was six.
    assert len(built["Subject"].__dict__["_folded"]) <= 2
