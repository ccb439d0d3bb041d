"""Mail texts. They say what kind of thing arrived and where to look, never who it is about."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


def referral_arrived(
    *, function_name: str, unit_name: str, referral_id: UUID, inbox_url: str
) -> Mail:
    link = f"{inbox_url.rstrip('/')}/referrals/{referral_id}"
    return Mail(
        subject=f"Ny remiss till {function_name} / New referral",
        body=(
            f"En ny remiss har kommit till {function_name}, {unit_name}.\n"
            f"Referens: {referral_id}\n"
            f"Öppna inkorgen: {link}\n\n"
            "Meddelandet innehåller inga personuppgifter.\n\n"
            "---\n"
            f"A new referral has arrived for {function_name}, {unit_name}.\n"
            f"Reference: {referral_id}\n"
            f"Open the inbox: {link}\n"
            "This message contains no personal data.\n"
        ),
    )
