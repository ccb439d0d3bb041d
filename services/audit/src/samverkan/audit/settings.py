"""Audit service settings (env prefix SAMVERKAN_AUDIT_)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from samverkan.runtime.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SAMVERKAN_AUDIT_", extra="ignore")
    section = "audit"

    pseudonym_key: SecretStr = Field(
        description="Secret of this node's audit service; keys the personnummer pseudonyms."
    )
    checkpoint_interval_s: float = Field(
        default=5.0,
        gt=0,
        description="How often a signed checkpoint is made while new entries arrive (needs "
        "SAMVERKAN_SIGNING_KEY).",
    )
    retention_years: int = Field(
        default=10,
        ge=5,
        description="How long entries must be kept. The service never deletes any; this is the "
        "minimum an operator archiving old database partitions must respect.",
    )
