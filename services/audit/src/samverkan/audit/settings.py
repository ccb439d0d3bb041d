"""Audit service settings (env prefix SAMVERKAN_AUDIT_)."""

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from samverkan.runtime.settings import ServiceSettings


class AuditSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SAMVERKAN_AUDIT_", extra="ignore")

    pseudonym_key: SecretStr = Field(
        description="Secret of this node's audit service; keys the personnummer pseudonyms."
    )
