"""What a container's environment must hold: names the settings read, every required one, valid values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from deploy.settings_catalogue import ServiceCatalogue

IMAGE = re.compile(r"(?:^|/)samverkan-(?P<service>[a-z]+)(?::[\w.-]+)?(?:@sha256:[0-9a-f]+)?$")


@dataclass(frozen=True, order=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def service_of_image(image: str) -> str | None:
    """`registry.example/samverkan/samverkan-audit:0.1.0` → `audit`."""
    match = IMAGE.search(image)
    return match.group("service") if match else None


def read_env_file(path: Path) -> tuple[dict[str, str], list[str]]:
    """KEY=VALUE lines as Compose and kustomize both read them; also what they would disagree on."""
    values: dict[str, str] = {}
    doubts: list[str] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            doubts.append(f"line {number}: 'export' is not understood by kustomize")
            line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            doubts.append(f"line {number}: not KEY=VALUE: {raw!r}")
            continue
        if " #" in value:
            doubts.append(f"line {number}: Compose drops ' #…' as a comment but kustomize keeps it")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            doubts.append(f"line {number}: quotes are kept by kustomize but removed by Compose")
            value = value[1:-1]
        if key in values:
            doubts.append(f"line {number}: {key} is set twice")
        values[key] = value
    return values, doubts


def check_env(
    catalogue: ServiceCatalogue, env: Mapping[str, str], where: str, *, complete: bool = True
) -> list[Problem]:
    """Unknown names, then (for a container that runs the service) missing and invalid values."""
    problems = []
    for name in sorted(env):
        if catalogue.find(name) is None and not catalogue.read_elsewhere(name):
            problems.append(Problem(where, catalogue.explain_unknown(name)))
    if complete:
        problems += [Problem(where, message) for message in catalogue.validate(env)]
    return problems
