"""Directory service settings (env prefix SAMVERKAN_DIRECTORY_)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from samverkan.runtime.settings import ServiceSettings


class DirectorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SAMVERKAN_DIRECTORY_", extra="ignore")
    section = "directory"

    key_rotation_overlap_h: float = Field(
        default=24.0,
        gt=0,
        description="After a new signing key is published, how many hours the previous key is "
        "still trusted (services not yet restarted with the new key keep signing with it).",
    )
