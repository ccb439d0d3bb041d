"""The services installed on this node, found through the `samverkan.services` entry points.

Each service's package names its ServiceSpec there, so node-wide tools (`samverkan node check`)
know every installed service without the runtime importing any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

from samverkan.runtime.migrations import RUNTIME, MigrationSource
from samverkan.runtime.settings import ServiceSettings

ENTRY_POINTS = "samverkan.services"


@dataclass(frozen=True)
class ServiceSpec:
    """What is known of a service without starting it: its settings and its database's schema."""

    name: str
    settings: type[ServiceSettings]
    own_migrations: tuple[MigrationSource, ...]

    @property
    def migrations(self) -> list[MigrationSource]:
        return [RUNTIME, *self.own_migrations]


def installed() -> list[ServiceSpec]:
    """Every service installed in this environment, by name."""
    specs = [entry.load() for entry in entry_points(group=ENTRY_POINTS)]
    return sorted(specs, key=lambda spec: spec.name)
