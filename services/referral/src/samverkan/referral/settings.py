"""Referral service settings (env prefix SAMVERKAN_REFERRAL_)."""

from pydantic_settings import SettingsConfigDict

from samverkan.runtime.settings import ServiceSettings


class ReferralSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SAMVERKAN_REFERRAL_", extra="ignore")
    section = "referral"
