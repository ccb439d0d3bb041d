"""Mail texts in Swedish with English fallback. They say what kind of thing arrived and where to
look, never who it is about: no name, no personnummer, no free text from the event."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

Language = Literal["sv", "en"]


@dataclass(frozen=True)
class Mail:
    subject: str
    body: str


# (subject, body) per kind and language. Placeholders: function, unit, reference, link, status.
TEMPLATES: dict[Language, dict[str, tuple[str, str]]] = {
    "sv": {
        "referral-arrived": (
            "Ny remiss till {function}",
            "En ny remiss har kommit till {function}, {unit}.",
        ),
        "referral-status": (
            "Remiss {status}",
            "En remiss från {function}, {unit}, har ändrat status: {status}.",
        ),
        "referral-reminder": (
            "Påminnelse: remiss väntar på {function}",
            "En remiss till {function}, {unit}, har inte {status} inom tidsfristen.",
        ),
        "referral-escalation": (
            "Remiss försenad hos mottagaren",
            "En remiss som {function}, {unit}, har skickat har inte {status} inom tidsfristen.",
        ),
        "concern-arrived": (
            "Ny orosanmälan till {function}",
            "En ny orosanmälan har kommit till {function}, {unit}.",
        ),
        "concern-feedback": (
            "Återkoppling på orosanmälan",
            "Socialtjänsten har återkopplat på en orosanmälan från {function}, {unit}.",
        ),
        "consultation-arrived": (
            "Ny konsultationsfråga till {function}",
            "En ny konsultationsfråga har kommit till {function}, {unit}.",
        ),
        "consultation-answered": (
            "Svar på konsultationsfråga",
            "En konsultationsfråga från {function}, {unit}, har besvarats.",
        ),
    },
    "en": {
        "referral-arrived": (
            "New referral for {function}",
            "A new referral has arrived for {function}, {unit}.",
        ),
        "referral-status": (
            "Referral {status}",
            "A referral sent by {function}, {unit}, has changed status: {status}.",
        ),
        "referral-reminder": (
            "Reminder: a referral waits for {function}",
            "A referral to {function}, {unit}, was not {status} within its deadline.",
        ),
        "referral-escalation": (
            "Referral overdue at the recipient",
            "A referral sent by {function}, {unit}, was not {status} within its deadline.",
        ),
        "concern-arrived": (
            "New report of concern for {function}",
            "A new report of concern has arrived for {function}, {unit}.",
        ),
        "concern-feedback": (
            "Feedback on a report of concern",
            "Social services gave feedback on a report of concern from {function}, {unit}.",
        ),
        "consultation-arrived": (
            "New consultation question for {function}",
            "A new consultation question has arrived for {function}, {unit}.",
        ),
        "consultation-answered": (
            "Consultation question answered",
            "A consultation question from {function}, {unit}, has been answered.",
        ),
    },
}

STATUS_WORDS: dict[Language, dict[str, str]] = {
    "sv": {
        "accepted": "accepterad",
        "rejected": "avböjd",
        "forwarded": "vidarebefordrad",
        "cancelled": "avslutad",
        "cancellation-requested": "återkallad av avsändaren",
        "contact-scheduled": "kontakt bokad",
        "no-show": "uteblivet besök",
        "completed": "avslutad med resultat",
        "not-received": "tagits emot",
        "not-decided": "beslutats",
    },
    "en": {
        "accepted": "accepted",
        "rejected": "declined",
        "forwarded": "forwarded",
        "cancelled": "cancelled",
        "cancellation-requested": "withdrawn by the sender",
        "contact-scheduled": "contact booked",
        "no-show": "missed appointment",
        "completed": "completed",
        "not-received": "received",
        "not-decided": "decided",
    },
}

_FOOTER: dict[Language, tuple[str, str, str]] = {
    "sv": ("Referens", "Öppna inkorgen", "Meddelandet innehåller inga personuppgifter."),
    "en": ("Reference", "Open the inbox", "This message contains no personal data."),
}
_WHITESPACE = re.compile(r"[\s\x00-\x1f\x7f]+")


def one_line(text: str) -> str:
    """Text fit for a header: every run of whitespace or control characters becomes one space."""
    return _WHITESPACE.sub(" ", text).strip()


def render(
    kind: str,
    *,
    function_name: str,
    unit_name: str,
    reference: UUID,
    link: str,
    status: str | None = None,
    language: Language = "sv",
) -> Mail:
    """The mail in `language`, followed by English; a kind without a text in `language` is
    written in English alone."""
    languages: list[Language] = [language] if kind in TEMPLATES[language] else []
    if "en" not in languages:
        languages.append("en")
    subjects, sections = [], []
    for lang in languages:
        subject, opening = TEMPLATES[lang][kind]
        fields = {
            "function": one_line(function_name),
            "unit": one_line(unit_name),
            "status": STATUS_WORDS[lang].get(status or "", status or ""),
        }
        label, open_label, no_personal_data = _FOOTER[lang]
        subjects.append(subject.format_map(fields))
        sections.append(
            f"{opening.format_map(fields)}\n{label}: {reference}\n{open_label}: {link}\n\n"
            f"{no_personal_data}\n"
        )
    return Mail(subject=one_line(" / ".join(subjects)), body="\n---\n".join(sections))
