"""Where settings come from: init args > environment > secrets dir > the node's TOML file > defaults.

One TOML file serves the whole node: `[node]`, `[kafka]` and one section per service
(`[referral]`, …), each holding the fields of the settings class of that name. A secrets dir holds
one file per setting, named like its environment variable (`samverkan_auth_jwt_key`), so keys and
passwords can be mounted rather than put in the environment. Errors are collected and worded for
an operator: the dotted key, where its value came from, never the value itself.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import ValidationError, create_model
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "SAMVERKAN_CONFIG"
SECRETS_DIR_ENV = "SAMVERKAN_SECRETS_DIR"


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds one plain sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ConfigFiles:
    """The TOML file and secrets dir in force (either may be absent), the TOML already read."""

    toml: Path | None = None
    secrets_dir: Path | None = None
    tables: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def resolve(cls, config: Path | None = None) -> ConfigFiles:
        """`config` (from --config), else SAMVERKAN_CONFIG; the secrets dir from its variable."""
        toml = config or _path_from_env(CONFIG_ENV)
        secrets_dir = _path_from_env(SECRETS_DIR_ENV)
        if secrets_dir is not None and not secrets_dir.is_dir():
            raise ConfigError([f"secrets dir {secrets_dir} ({SECRETS_DIR_ENV}) is not a directory"])
        return cls(toml, secrets_dir, _read_toml(toml) if toml else {})

    def section(self, name: str | None) -> dict[str, Any] | None:
        table = self.tables.get(name) if name else None
        return table if isinstance(table, dict) else None

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        token = _active.set(self)
        try:
            yield
        finally:
            _active.reset(token)


_active: ContextVar[ConfigFiles | None] = ContextVar("samverkan_config_files", default=None)


def _path_from_env(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError([f"config file {path} does not exist"]) from None
    except OSError as exc:
        raise ConfigError([f"config file {path} cannot be read: {exc.strerror}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"config file {path} is not valid TOML: {exc}"]) from None


def _current() -> ConfigFiles:
    files = _active.get()
    return files if files is not None else ConfigFiles.resolve()


class LayeredSettings(BaseSettings):
    """Settings read from the layers above; `section` names the class's table in the TOML file
    (a class without one, such as a bare ServiceSettings in tests, reads no file)."""

    section: ClassVar[str | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = _current()
        sources = [init_settings, env_settings]
        if files.secrets_dir is not None:
            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=files.secrets_dir))
        if cls.section and files.section(cls.section) is not None:
            sources.append(
                TomlConfigSettingsSource(
                    settings_cls, toml_file=files.toml, toml_table_header=(cls.section,)
                )
            )
        return tuple(sources)

    @classmethod
    def env_name(cls, field_name: str) -> str:
        return f"{cls.model_config.get('env_prefix', '')}{field_name}".upper()


S = TypeVar("S", bound=LayeredSettings)


def load(cls: type[S], config: Path | None = None) -> S:
    """Build `cls` and the settings nested in it from every layer, or raise ConfigError naming
    every problem at once (a bad [node] does not hide a bad [referral])."""
    files = ConfigFiles.resolve(config)
    problems = [p for c in (*_nested(cls).values(), cls) for p in _unknown_keys(c, files)]
    built: dict[str, Any] = {}
    with files.active():
        for name, nested in _nested(cls).items():
            try:
                built[name] = nested()
            except ValidationError as exc:
                problems += [_describe(nested, e, files) for e in exc.errors()]
        try:
            if len(built) == len(_nested(cls)):
                settings = cls(**built)
            else:  # check the service's own fields anyway, without the broken parts
                create_model(  # type: ignore[call-overload]
                    cls.__name__, __base__=cls, **{name: (Any, None) for name in _nested(cls)}
                )()
        except ValidationError as exc:
            problems += [_describe(cls, e, files) for e in exc.errors()]
    if problems:
        raise ConfigError(problems)
    return settings


def _nested(cls: type[LayeredSettings]) -> dict[str, type[LayeredSettings]]:
    """Fields holding settings of their own section (e.g. `node`, `kafka`)."""
    return {
        name: info.annotation
        for name, info in cls.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, LayeredSettings)
    }


def _unknown_keys(cls: type[LayeredSettings], files: ConfigFiles) -> list[str]:
    table = files.tables.get(cls.section) if cls.section else None
    if table is None:
        return []
    if not isinstance(table, dict):
        return [f"{cls.section}: should be a [{cls.section}] table in {files.toml}"]
    known = set(cls.model_fields) - set(_nested(cls))
    return [
        f"{cls.section}.{key}: no such setting (in {files.toml})"
        for key in sorted(table)
        if key not in known
    ]


def _describe(cls: type[LayeredSettings], error: Any, files: ConfigFiles) -> str:
    """One line: the dotted key, what is wrong, and where the value came from (or may be set)."""
    field_name = str(error["loc"][0]) if error["loc"] else None
    key = ".".join([cls.section or cls.__name__, *(str(part) for part in error["loc"])])
    if field_name is None:  # a rule across fields
        return f"{key}: {error['msg']}"
    env = cls.env_name(field_name)
    in_toml = f"[{cls.section}] {field_name} in {files.toml}" if files.toml else None
    if error["type"] == "missing":
        in_secrets = f"a file {files.secrets_dir / env.lower()}" if files.secrets_dir else None
        where = " or ".join(filter(None, [in_toml, env, in_secrets]))
        return f"{key}: required but not set (set {where})"
    return f"{key}: {error['msg']} (from {_origin(cls, field_name, env, in_toml, files)})"


def _origin(
    cls: type[LayeredSettings], field_name: str, env: str, in_toml: str | None, files: ConfigFiles
) -> str:
    if env in {name.upper() for name in os.environ}:
        return env
    if files.secrets_dir is not None:
        for secret in files.secrets_dir.iterdir():
            if secret.name.upper() == env:
                return f"secret file {secret}"
    if in_toml and field_name in (files.section(cls.section) or {}):
        return in_toml
    return "its default"
