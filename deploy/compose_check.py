"""Validates the Compose files: the Compose schema, what the schema cannot see, each service's env."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml

from deploy import dockerfile
from deploy.envcheck import Problem, check_env, read_env_file, service_of_image
from deploy.settings_catalogue import ServiceCatalogue

SCHEMA = Path(__file__).parent / "schemas" / "compose-spec.json"
_INTERPOLATION = re.compile(r"(?<!\$)\$(?!\$)")


def compose_files(compose_dir: Path) -> list[Path]:
    return sorted(p for p in compose_dir.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def check(
    compose_dir: Path, root: Path, catalogue: dict[str, ServiceCatalogue]
) -> tuple[list[Problem], list[str]]:
    """Problems, and a line per file saying what was checked."""
    files = compose_files(compose_dir)
    if not files:
        return [Problem(str(compose_dir.relative_to(root)), "no compose file")], []
    problems: list[Problem] = []
    notes: list[str] = []
    for path in files:
        found, note = check_file(path, root, catalogue)
        problems += found
        notes.append(note)
    return problems, notes


def check_file(
    path: Path, root: Path, catalogue: dict[str, ServiceCatalogue]
) -> tuple[list[Problem], str]:
    where = str(path.relative_to(root))
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        return [Problem(where, f"not valid YAML: {exc}")], f"{where}: not parsed"
    if not isinstance(document, dict):
        return [Problem(where, "not a mapping")], f"{where}: not parsed"
    problems = _interpolations(document, where)
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        problems.append(Problem(f"{where} {_path(error.absolute_path)}", _shorten(error.message)))
    if problems:  # the checks below assume a document of the right shape
        return problems, f"{where}: invalid"
    services: dict[str, dict[str, Any]] = document.get("services") or {}
    problems += _references(document, services, path.parent, where)
    problems += _builds(services, path.parent, root, where)
    checked = 0
    for name, service in services.items():
        kind = service_of_image(str(service.get("image", "")))
        if kind is None:
            continue
        if kind not in catalogue:
            problems.append(Problem(f"{where} services.{name}", f"no Samverkan service {kind!r}"))
            continue
        checked += 1
        problems += _samverkan_service(
            f"{where} services.{name}", name, service, kind, services, path.parent, root, catalogue
        )
    note = (
        f"{where}: {len(services)} services valid against the Compose schema; "
        f"environment of {checked} Samverkan containers matches the settings classes"
    )
    return problems, note


def environment(
    service: dict[str, Any], base: Path, root: Path
) -> tuple[dict[str, str], dict[str, str], list[Problem]]:
    """The service's env as Compose builds it (env_file, then environment) and where each came from.

    A git-ignored secrets file that is not there is read from its committed `.example`.
    """
    env: dict[str, str] = {}
    origin: dict[str, str] = {}
    problems: list[Problem] = []
    for entry in _as_list(service.get("env_file")):
        relative = entry if isinstance(entry, str) else entry["path"]
        path = base / relative
        if not path.is_file() and Path(f"{path}.example").is_file():
            path = Path(f"{path}.example")
        if not path.is_file():
            if isinstance(entry, dict) and entry.get("required") is False:
                continue
            problems.append(Problem(str(base.relative_to(root)), f"env_file {relative} not found"))
            continue
        values, doubts = read_env_file(path)
        label = str(path.relative_to(root))
        problems += [Problem(label, doubt) for doubt in doubts]
        env.update(values)
        origin.update(dict.fromkeys(values, label))
    declared = service.get("environment") or {}
    if isinstance(declared, list):
        declared = dict(item.partition("=")[::2] for item in declared)
    for key, value in declared.items():
        env[key] = (
            "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        )
        origin[key] = "environment"
    return env, origin, problems


def _samverkan_service(
    where: str,
    name: str,
    service: dict[str, Any],
    kind: str,
    services: dict[str, dict[str, Any]],
    base: Path,
    root: Path,
    catalogue: dict[str, ServiceCatalogue],
) -> list[Problem]:
    env, _, problems = environment(service, base, root)
    image_env = dockerfile.env_of(dockerfile.stages(root / "deploy" / "Dockerfile"), kind)
    full = {k: v for k, v in image_env.items() if k.startswith(("SAMVERKAN_", "KAFKA_"))} | env
    problems += check_env(catalogue[kind], full, where)
    principal = env.get("SAMVERKAN_PRINCIPAL", "")
    if principal and not name.startswith(f"{principal}-{kind}"):
        problems.append(
            Problem(where, f"SAMVERKAN_PRINCIPAL is {principal!r}: files of another principal?")
        )
    dsn = env.get(f"{catalogue[kind].prefix}DATABASE_URL")
    if dsn:
        problems += _database(where, dsn, kind, principal, services, base, root)
    return problems


def _database(
    where: str,
    dsn: str,
    kind: str,
    principal: str,
    services: dict[str, dict[str, Any]],
    base: Path,
    root: Path,
) -> list[Problem]:
    """The DSN names this principal's Postgres, the service's own database, the role's password."""
    url = urlsplit(dsn)
    if url.scheme not in ("postgresql", "postgres"):
        return [Problem(where, f"DATABASE_URL is not a postgresql:// DSN: {url.scheme}://…")]
    problems = []
    expected_host = f"postgres-{principal}"
    if url.hostname != expected_host:
        problems.append(
            Problem(where, f"DATABASE_URL host {url.hostname!r}, not {expected_host!r}")
        )
    if url.path.lstrip("/") != kind or url.username != kind:
        problems.append(Problem(where, f"DATABASE_URL must use role and database {kind!r}"))
    if url.hostname in services:
        server_env, _, _ = environment(services[url.hostname], base, root)
        expected = server_env.get(f"SAMVERKAN_DB_PASSWORD_{kind.upper()}")
        if expected is None:
            problems.append(
                Problem(where, f"{url.hostname} does not set SAMVERKAN_DB_PASSWORD_{kind.upper()}")
            )
        elif url.password != expected:
            problems.append(
                Problem(
                    where, f"the DATABASE_URL password differs from the one {url.hostname} sets"
                )
            )
    return problems


def _references(
    document: dict[str, Any], services: dict[str, dict[str, Any]], base: Path, where: str
) -> list[Problem]:
    problems = []
    volumes = set(document.get("volumes") or {})
    for name, service in services.items():
        here = f"{where} services.{name}"
        depends = service.get("depends_on") or {}
        for target in depends if isinstance(depends, dict) else _as_list(depends):
            if target not in services:
                problems.append(Problem(here, f"depends_on {target!r}: no such service"))
                continue
            condition = depends[target].get("condition") if isinstance(depends, dict) else None
            restart = str(services[target].get("restart", "no"))
            if condition == "service_completed_successfully" and restart != "no":
                problems.append(Problem(here, f"waits for {target} to exit, but it restarts"))
        for volume in _as_list(service.get("volumes")):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume.get("source")
            if not source:
                continue
            if source.startswith((".", "/")):
                if not (base / source).exists():
                    problems.append(Problem(here, f"bind mount source {source} not found"))
            elif source not in volumes:
                problems.append(Problem(here, f"volume {source!r} is not declared under volumes"))
    return problems


def _builds(
    services: dict[str, dict[str, Any]], base: Path, root: Path, where: str
) -> list[Problem]:
    problems = []
    for name, service in services.items():
        build = service.get("build")
        if build is None:
            continue
        here = f"{where} services.{name}.build"
        build = {"context": build} if isinstance(build, str) else build
        context = base / build.get("context", ".")
        recipe = context / build.get("dockerfile", "Dockerfile")
        if not recipe.is_file():
            problems.append(Problem(here, f"Dockerfile {recipe} not found"))
            continue
        target = build.get("target")
        all_stages = dockerfile.stages(recipe)
        if target and target not in all_stages:
            problems.append(Problem(here, f"target {target!r} is not a stage of {recipe.name}"))
        service_arg = (build.get("args") or {}).get("SERVICE")
        if target and service_arg != target:
            problems.append(Problem(here, f"args.SERVICE {service_arg!r} differs from target"))
        kind = service_of_image(str(service.get("image", "")))
        if kind and target != kind:
            problems.append(Problem(here, f"image samverkan-{kind} built from target {target!r}"))
    return problems


def _interpolations(node: Any, where: str, path: str = "") -> list[Problem]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _interpolations(v, where, f"{path}.{k}")]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _interpolations(v, where, f"{path}[{i}]")]
    if isinstance(node, str) and _INTERPOLATION.search(node):
        return [
            Problem(
                f"{where} {path.lstrip('.')}",
                "uses $ interpolation, which deploy.check cannot resolve: write the value, or $$",
            )
        ]
    return []


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "(top level)"


def _shorten(message: str, limit: int = 240) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


def check_topics(script: Path, root: Path, expected: tuple[str, ...]) -> list[Problem]:
    """The topic script creates every topic of the contracts, the directory topic unexpiring."""
    where = str(script.relative_to(root))
    if not script.is_file():
        return [Problem(where, "missing")]
    created: dict[str, str] = {}
    for line in script.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^topic\s+(\S+)\s*(.*)$", line.strip())
        if match:
            created[match.group(1)] = match.group(2)
    problems = [
        Problem(where, f"topic {name} of samverkan.contracts.topics is not created")
        for name in expected
        if name not in created
    ]
    problems += [
        Problem(where, f"creates {name}, which samverkan.contracts.topics does not name")
        for name in created
        if name not in expected
    ]
    for name, config in created.items():
        if ".directory." in name and "retention.ms=-1" not in config:
            problems.append(Problem(where, f"{name} must keep its history: retention.ms=-1"))
    return problems
