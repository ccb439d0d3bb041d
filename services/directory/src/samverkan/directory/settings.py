"""Directory service settings (env prefix SAMVERKAN_DIRECTORY_)."""

from pydantic_settings import SettingsConfigDict

from samverkan.runtime.settings import ServiceSettings


class DirectorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SAMVERKAN_DIRECTORY_", extra="ignore")
