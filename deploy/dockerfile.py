"""Reads deploy/Dockerfile into stages and checks each service's final stage against its settings."""

from __future__ import annotations

import glob
import json
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from deploy.envcheck import Problem, check_env
from deploy.settings_catalogue import ServiceCatalogue


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str, int]] = field(default_factory=list)  # keyword, args, line

    def all(self, keyword: str) -> list[tuple[str, int]]:
        return [(args, line) for kw, args, line in self.instructions if kw == keyword]


def stages(path: Path) -> dict[str, Stage]:
    """Stages by name (`AS name`, else their index), instructions with continuations joined."""
    found: dict[str, Stage] = {}
    current: Stage | None = None
    pending, start = "", 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text, pending = pending + stripped, ""
        keyword, _, args = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(found))
            current = found[name] = Stage(name, words[0])
        elif current is not None:
            current.instructions.append((keyword, args.strip(), start))
    return found


def chain(all_stages: dict[str, Stage], name: str) -> list[Stage]:
    """The stage and the stages it is built on, base first."""
    result: list[Stage] = []
    while name in all_stages:
        result.insert(0, all_stages[name])
        name = all_stages[name].base
    return result


def env_of(all_stages: dict[str, Stage], name: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for stage in chain(all_stages, name):
        for args, _ in stage.all("ENV"):
            for word in shlex.split(args):
                key, sep, value = word.partition("=")
                if sep:
                    env[key] = value
    return env


def check(path: Path, root: Path, catalogue: dict[str, ServiceCatalogue]) -> list[Problem]:
    where = str(path.relative_to(root))
    if not path.is_file():
        return [Problem(where, "missing")]
    all_stages = stages(path)
    problems = _check_build(all_stages, root, where)
    for service, entry in catalogue.items():
        problems += _check_service_stage(all_stages, service, entry, where)
    return problems


def _check_build(all_stages: dict[str, Stage], root: Path, where: str) -> list[Problem]:
    problems = []
    syncs = [
        (args, line)
        for stage in all_stages.values()
        for args, line in stage.all("RUN")
        if "uv sync" in args
    ]
    if not syncs:
        problems.append(Problem(where, "no 'uv sync' step: the image must be built from uv.lock"))
    for args, line in syncs:
        for flag in ("--frozen", "--no-dev", '--package "samverkan-${SERVICE}"'):
            if flag not in args:
                problems.append(Problem(f"{where}:{line}", f"'uv sync' without {flag}"))
    copied = " ".join(args for stage in all_stages.values() for args, _ in stage.all("COPY"))
    for member in _workspace_members(root):
        if f"{member}/pyproject.toml" not in copied and f"{member}/ " not in copied + " ":
            problems.append(
                Problem(where, f"workspace member {member} is not copied: uv cannot read the lock")
            )
    for stage in all_stages.values():
        for args, line in stage.all("COPY"):
            words = [w for w in args.split() if not w.startswith("--")]
            if any(w.startswith("--from") for w in args.split()):
                continue
            for source in words[:-1]:
                if not (root / source).exists():
                    problems.append(Problem(f"{where}:{line}", f"COPY source {source} not found"))
    return problems


def _check_service_stage(
    all_stages: dict[str, Stage], service: str, entry: ServiceCatalogue, where: str
) -> list[Problem]:
    if service not in all_stages:
        return [Problem(where, f"no final stage '{service}' (docker build --target {service})")]
    stage_where = f"{where} stage {service}"
    problems = []
    stages_used = chain(all_stages, service)
    users = [args for stage in stages_used for args, _ in stage.all("USER")]
    if not users or users[-1].split(":")[0] in ("0", "root"):
        problems.append(Problem(stage_where, "runs as root: set USER to an unprivileged uid"))
    entrypoints = [args for stage in stages_used for args, _ in stage.all("ENTRYPOINT")]
    if not entrypoints or _exec_form(entrypoints[-1]) != [f"samverkan-{service}"]:
        problems.append(Problem(stage_where, f'ENTRYPOINT must be ["samverkan-{service}"]'))
    commands = [args for stage in stages_used for args, _ in stage.all("CMD")]
    if not commands or _exec_form(commands[-1]) != ["serve"]:
        problems.append(Problem(stage_where, 'CMD must be ["serve"]'))
    checks = [args for stage in stages_used for args, _ in stage.all("HEALTHCHECK")]
    port_variable = f"{entry.prefix}HTTP_PORT"
    if not checks or port_variable not in checks[-1]:
        problems.append(Problem(stage_where, f"no HEALTHCHECK probing /healthz on {port_variable}"))
    problems += check_env(entry, env_of(all_stages, service), stage_where, complete=False)
    return problems


def _exec_form(args: str) -> list[str] | None:
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


def _workspace_members(root: Path) -> list[str]:
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config.get("tool", {}).get("uv", {}).get("workspace", {}).get("members", [])
    members = []
    for pattern in patterns:
        for match in sorted(glob.glob(str(root / pattern))):
            if (Path(match) / "pyproject.toml").is_file():
                members.append(str(Path(match).relative_to(root)))
    return members
