"""Notification service settings (env prefix SAMVERKAN_NOTIFICATION_)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from samverkan.runtime.settings import ServiceSettings


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SAMVERKAN_NOTIFICATION_", extra="ignore")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    mail_from: str = Field(default="samverkan@localhost", description="Envelope and From address.")
    inbox_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base address staff open to see their inbox; mails link to it.",
    )
    delivery_poll_interval_s: float = Field(default=1.0, gt=0)
    delivery_max_attempts: int = Field(default=8, ge=1)
