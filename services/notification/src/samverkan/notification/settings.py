"""Notification service settings (env prefix SAMVERKAN_NOTIFICATION_)."""

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from samverkan.runtime.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SAMVERKAN_NOTIFICATION_", extra="ignore")
    section = "notification"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout_s: float = Field(
        default=30.0, gt=0, description="Longest wait, in seconds, for the mail relay."
    )
    smtp_keep_alive_s: float = Field(
        default=30.0,
        ge=0,
        description="Reuse the SMTP session for the next mail when it follows within this many "
        "seconds (0: one session per mail); an older session is closed when the next mail comes.",
    )
    mail_from: str = Field(default="samverkan@localhost", description="Envelope and From address.")
    mail_language: Literal["sv", "en"] = Field(
        default="sv",
        description="Language of mails; an English text follows, and stands alone where a "
        "text is missing in this language.",
    )
    inbox_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base address staff open to see their inbox; mails link to it.",
    )
    delivery_poll_interval_s: float = Field(default=1.0, gt=0)
    delivery_max_attempts: int = Field(default=8, ge=1)
    delivery_backoff_s: float = Field(
        default=5.0,
        gt=0,
        description="Wait before the second attempt at a mail or webhook call; it doubles with "
        "each attempt (with random jitter) up to delivery_backoff_max_s.",
    )
    delivery_backoff_max_s: float = Field(
        default=3600.0, gt=0, description="Longest wait, in seconds, between two attempts."
    )
    delivery_uncertain_after_s: float = Field(
        default=300.0,
        gt=0,
        description="A delivery still marked as being handed over after this many seconds was "
        "interrupted (the service stopped mid-send): it is marked uncertain and never repeated.",
    )
    webhook_max_attempts: int = Field(
        default=10, ge=1, description="Attempts at one webhook call before notification.failed."
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="Longest wait, in seconds, for a webhook receiver."
    )
    webhook_allow_http: bool = Field(
        default=False,
        description="Accept plain http:// webhook URLs (development only; production needs https).",
    )
    receipt_deadline_working_days: int = Field(
        default=1,
        ge=0,
        description="Working days a referral this principal sent may wait for the recipient's "
        "receipt before the sender is alerted and the recipient reminded.",
    )
    decision_deadline_working_days: int = Field(
        default=5,
        ge=0,
        description="Working days a referral to this principal may wait for a decision (accept, "
        "decline, forward) before the recipient function is reminded and the sender alerted.",
    )
    deadline_poll_interval_s: float = Field(
        default=60.0, gt=0, description="How often, in seconds, deadlines are checked."
    )
