"""Every HTTP endpoint of every service, and everything it depends on, is async: FastAPI runs a
synchronous one on a worker thread, a hop there and back on every request
(test_referral_api.py counts the hops of a referral's requests; this covers every service)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from integration.node_services import SERVICES, build
from support import unique

pytestmark = pytest.mark.unit  # builds the apps; starts nothing


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _is_async(call: Callable[..., Any]) -> bool:
    # Or an instance with an async __call__, such as FastAPI's HTTPBearer.
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(type(call).__call__)


@pytest.mark.parametrize("service", SERVICES)
def test_no_endpoint_or_dependency_is_synchronous(service: str) -> None:
    _, app = build(
        service, principal=unique("kommun"), dsn="postgresql://nobody@127.0.0.1:9/none", kafka=""
    )
    checked, synchronous = 0, []
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route.route, "dependant", None)
        if dependant is None:
            continue  # FastAPI's own documentation pages
        for call in _calls(dependant):
            checked += 1
            if not _is_async(call):
                synchronous.append(f"{route.path}: {getattr(call, '__qualname__', call)}")
    assert checked > 5  # the service's endpoints were found
    assert synchronous == []
