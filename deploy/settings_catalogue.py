"""Every environment variable each service reads, taken from its settings classes (not a copy)."""

from __future__ import annotations

import contextlib
import difflib
import importlib
import os
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel, SecretStr, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

SERVICES = ("directory", "referral", "notification", "audit")

# Variables the processes read outside the settings classes: by prefix, and by exact name.
READ_ELSEWHERE_PREFIXES = {
    "OTEL_": "the OpenTelemetry SDK (samverkan.runtime.telemetry)",
    "PYTHON": "the Python interpreter",
}
READ_ELSEWHERE = {"PATH", "HOME", "TZ", "LANG", "LC_ALL", "TMPDIR"}


@dataclass(frozen=True)
class Setting:
    env: str  # canonical (upper-case) variable name
    path: str  # where it lands in the settings object, e.g. "kafka.sasl_mechanism"
    owner: str  # the class that declares the field, e.g. "KafkaSettings"
    field: str
    required: bool
    default: str
    type: str
    secret: bool
    description: str | None
    case_sensitive: bool


@dataclass(frozen=True)
class ServiceCatalogue:
    service: str
    settings_class: type[BaseSettings]
    prefix: str  # e.g. SAMVERKAN_REFERRAL_
    settings: tuple[Setting, ...]

    def find(self, name: str) -> Setting | None:
        for setting in self.settings:
            if setting.env == name or (not setting.case_sensitive and setting.env == name.upper()):
                return setting
        return None

    def explain_unknown(self, name: str) -> str:
        """Why `name` is not read by this service, with the nearest real name if there is one."""
        known = [s.env for s in self.settings]
        close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else ""
        return f"no setting of samverkan-{self.service} reads {name}{hint}"

    def read_elsewhere(self, name: str) -> bool:
        return name in READ_ELSEWHERE or name.startswith(tuple(READ_ELSEWHERE_PREFIXES))

    def validate(self, env: Mapping[str, str]) -> list[str]:
        """Build the settings as the service would, from exactly `env`; return every error."""
        problems: list[str] = []
        nested = _nested_settings(self.settings_class)
        with _only_environment(env):
            for name, cls in nested:
                try:
                    cls()
                except ValidationError as exc:
                    problems += [_describe(self, f"{name}.", cls, e) for e in exc.errors()]
            # The service's own fields, with the nested parts (checked above) left out, so
            # that an error in one part does not hide the errors in the others.
            own = create_model(  # type: ignore[call-overload]
                self.settings_class.__name__,
                __base__=self.settings_class,
                **{name: (Any, None) for name, _ in nested},
            )
            try:
                own()
            except ValidationError as exc:
                problems += [_describe(self, "", self.settings_class, e) for e in exc.errors()]
        return problems


def settings_class(service: str) -> type[BaseSettings]:
    """The one BaseSettings subclass a service's `settings` module defines."""
    module = importlib.import_module(f"samverkan.{service}.settings")
    found = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == module.__name__
    ]
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise LookupError(f"{module.__name__} should define one settings class, found {names}")
    return found[0]


def load() -> dict[str, ServiceCatalogue]:
    return {service: for_class(service, settings_class(service)) for service in SERVICES}


def for_class(service: str, cls: type[BaseSettings]) -> ServiceCatalogue:
    prefix = str(cls.model_config.get("env_prefix", ""))
    return ServiceCatalogue(service, cls, prefix, tuple(_walk(cls, prefix, "")))


def _walk(cls: type[BaseModel], prefix: str, path: str) -> Iterator[Setting]:
    config = cls.model_config
    case_sensitive = bool(config.get("case_sensitive", False))
    delimiter = config.get("env_nested_delimiter")
    for name, field in cls.model_fields.items():
        nested = _model_in(field.annotation)
        dotted = f"{path}{name}"
        if (name, nested) in _nested_settings(cls):
            # Built by its default factory, which reads its own prefix (e.g. KAFKA_).
            own_prefix = str(nested.model_config.get("env_prefix", ""))
            yield from _walk(nested, own_prefix, dotted + ".")
            continue
        if nested is not None and delimiter:
            yield from _walk(nested, f"{prefix}{name}{delimiter}", dotted + ".")
            continue
        for env in _env_names(prefix, name, field):
            yield Setting(
                env=env if case_sensitive else env.upper(),
                path=dotted,
                owner=_declaring_class(cls, name),
                field=name,
                required=field.is_required(),
                default=_default(field),
                type=_type_name(field.annotation),
                secret=_is_secret(field.annotation),
                description=field.description,
                case_sensitive=case_sensitive,
            )


def _env_names(prefix: str, name: str, field: FieldInfo) -> list[str]:
    alias = field.validation_alias
    if isinstance(alias, str):
        return [alias]  # pydantic-settings does not add the prefix to an alias
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    return [f"{prefix}{name}"]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    candidates = get_args(annotation) if _is_union(annotation) else (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _is_secret(annotation: Any) -> bool:
    candidates = get_args(annotation) if _is_union(annotation) else (annotation,)
    return any(isinstance(c, type) and issubclass(c, SecretStr) for c in candidates)


def _type_name(annotation: Any) -> str:
    """A reader's name for a field's type: `int`, `secret`, `PLAINTEXT \\| SSL`, `Slug`."""
    if _is_union(annotation):
        parts = [a for a in get_args(annotation) if a is not type(None)]
        return " \\| ".join(_type_name(a) for a in parts)
    if get_origin(annotation) is Literal:
        return " \\| ".join(f"`{value}`" for value in get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, SecretStr):
        return "secret"
    if get_origin(annotation) is Annotated:
        return getattr(annotation, "__name__", None) or _type_name(get_args(annotation)[0])
    return getattr(annotation, "__name__", None) or repr(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return ""
    if field.default_factory is not None:
        return "(computed)"
    if field.default is None or field.default is PydanticUndefined:
        return "unset"
    if isinstance(field.default, bool):
        return str(field.default).lower()
    return str(field.default)


def _declaring_class(cls: type[BaseModel], name: str) -> str:
    for klass in reversed(cls.__mro__):
        if name in getattr(klass, "__annotations__", {}):
            return klass.__name__
    return cls.__name__


def _nested_settings(cls: type[BaseModel]) -> list[tuple[str, type[BaseSettings]]]:
    """Fields holding settings that their default factory reads from their own prefix."""
    found = []
    for name, field in cls.model_fields.items():
        nested = _model_in(field.annotation)
        if nested is not None and issubclass(nested, BaseSettings) and not field.is_required():
            found.append((name, nested))
    return found


def _describe(catalogue: ServiceCatalogue, path: str, cls: type[BaseModel], error: Any) -> str:
    dotted = path + ".".join(str(part) for part in error["loc"])
    envs = [s.env for s in catalogue.settings if s.path == dotted]
    name = envs[0] if envs else cls.__name__
    message = "is required but not set" if error["type"] == "missing" else error["msg"]
    return f"{name}: {message}"


@contextlib.contextmanager
def _only_environment(env: Mapping[str, str]) -> Iterator[None]:
    """Run with `env` as the whole process environment (restored afterwards)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
