"""Directory services over the real broker: import, route, retire, keys, rebuild, forgeries."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from support import (
    SECRET,
    dead_letter_about,
    eventually,
    running,
    seed_keys,
    settings,
    signed_headers,
    signing_key,
    token,
    unique,
)

from samverkan.contracts import CloudEvent
from samverkan.contracts.directory import FunctionPublished, UnitKind
from samverkan.contracts.referral import FunctionRef
from samverkan.directory.app import build
from samverkan.directory.settings import DirectorySettings
from samverkan.runtime import directory_view
from samverkan.runtime.auth import Role
from samverkan.runtime.node import Node
from samverkan.runtime.settings import NodeSettings
from samverkan.runtime.signing import generate_key

pytestmark = pytest.mark.integration

DEMO = ("sjostad-kommun", "vastra-regionen")


def dataset(ids: dict[str, str], principal: str) -> dict[str, Any]:
    """The demo dataset under this test's own principal ids (the broker is shared)."""
    text = files("samverkan.devnet").joinpath("data", f"{principal}.json").read_text()
    for demo, mine in ids.items():
        text = text.replace(f'"{demo}"', f'"{mine}"')
    return json.loads(text)


class Directory:
    def __init__(self, principal: str, dsn: str, kafka: str, **node: Any) -> None:
        self.principal = principal
        config = settings(DirectorySettings, principal=principal, dsn=dsn, kafka=kafka)
        node = {"signing_key": signing_key(principal), **node}
        config.node = NodeSettings(principal=principal, auth_jwt_key=SECRET, **node)
        self.node, self.app = build(config)
        self.client: httpx.AsyncClient

    @property
    def admin(self) -> dict[str, str]:
        return token(self.principal, None, Role.ADMIN)

    async def routing(self, of: str, function: str, need: str) -> httpx.Response:
        return await self.client.get(
            "/routing",
            params={"principal": of, "function": function, "need": need},
            headers=token(self.principal, "any-function", Role.STAFF),
        )

    async def rows(self, principals: list[str]) -> dict[str, list[dict[str, Any]]]:
        """This node's copy of the map, for `principals`, comparable across nodes: a retired
        entry by its id and retirement only (what routing reads of a tombstone)."""
        tables = {
            "dir_principals": "principal",
            "dir_units": "unit",
            "dir_functions": "function",
            "dir_contacts": "contact",
            "dir_keys": "key_id",
        }
        out = {}
        for table, column in tables.items():
            rows = await self.node.pool.fetch(
                f"SELECT * FROM {table} WHERE principal = ANY($1::text[])", principals
            )
            out[table] = sorted(
                (
                    dict(r)
                    if r.get("retired_at") is None
                    else {"id": r[column], "retired_at": r["retired_at"]}
                    for r in rows
                ),
                key=repr,
            )
        return out


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


async def start(stack: AsyncExitStack, directory: Directory) -> Directory:
    directory.client = await stack.enter_async_context(running(directory.node, directory.app))
    return directory


async def test_two_principals_route_retire_rotate_and_a_late_node_rebuilds_the_map(
    new_database, kafka_bootstrap: str, stack: AsyncExitStack
) -> None:  # type: ignore[no-untyped-def]
    ids = {demo: unique(demo.split("-")[0]) for demo in DEMO}
    municipality_id, region_id = ids["sjostad-kommun"], ids["vastra-regionen"]
    key_1 = generate_key()
    municipality = await start(stack, Directory(municipality_id, new_database(), kafka_bootstrap))
    region = await start(
        stack,
        Directory(
            region_id, new_database(), kafka_bootstrap, signing_key=key_1, signing_key_id="key-1"
        ),
    )

    # Admins of the principal only.
    document = dataset(ids, "sjostad-kommun")
    put = municipality.client.put
    assert (await put("/admin/directory", json=document, headers=region.admin)).status_code == 403
    staff = token(municipality_id, "skolskoterska-ekbacken", Role.STAFF)
    assert (await put("/admin/directory", json=document, headers=staff)).status_code == 403
    wrong = await put(
        "/admin/directory", json=dataset(ids, "vastra-regionen"), headers=municipality.admin
    )
    assert wrong.status_code == 422 and wrong.json()["title"] == "Wrong principal"

    imported = await put("/admin/directory", json=document, headers=municipality.admin)
    assert imported.status_code == 200, imported.text
    assert imported.json()["published"] == 1 + 4 + 7 + 9 and imported.json()["retired"] == 0

    # Proposed by the municipality, not yet confirmed by the region: no route.
    async def answer(of: str, function: str, need: str, status: int) -> dict[str, Any] | None:
        r = await municipality.routing(of, function, need)
        return r.json() if r.status_code == status else None

    refused = await eventually(
        "the municipality's own entries to arrive",
        lambda: answer(municipality_id, "skolskoterska-ekbacken", "medical-psychological", 404),
    )
    assert (
        f"not confirmed by {region_id}" in refused["detail"]
        or "not in the directory" in refused["detail"]
    )

    response = await region.client.put(
        "/admin/directory", json=dataset(ids, "vastra-regionen"), headers=region.admin
    )
    assert response.status_code == 200, response.text
    for function, need, expected in [
        ("skolskoterska-ekbacken", "medical-psychological", f"{region_id}/uph-hamnen"),
        ("skolkurator-ekbacken", "medical-psychological", f"{region_id}/socionom-hamnen"),
        ("skolkurator-ekbacken", "psychosocial", f"{municipality_id}/mottagning-barn-unga"),
        ("skolskoterska-solberga", "medical-psychological", f"{region_id}/uph-solberga"),
    ]:
        found = await eventually(
            f"{function} to route for {need}",
            lambda f=function, n=need: answer(municipality_id, f, n, 200),
        )
        assert f"{found['principal']}/{found['function']}" == expected

    # The region sees every proposal to it confirmed.
    async def all_confirmed() -> list[dict[str, Any]] | None:
        r = await region.client.get("/admin/directory/proposals", headers=region.admin)
        found = r.json()
        return found if len(found) == 6 and all(p["confirmed"] for p in found) else None

    proposals = await eventually("the region to see its confirmations", all_confirmed)
    assert {p["principal"] for p in proposals} == {municipality_id}

    # The region's key was published on start and reached the municipality's node.
    async def key_at(node: Node, key_id: str, at: datetime) -> str | None:
        async with node.pool.acquire() as conn:
            return await directory_view.key(conn, region_id, key_id, at)

    now = datetime.now(UTC)
    public_1 = await eventually("the region's key", lambda: key_at(municipality.node, "key-1", now))

    # A school removed from the document: its functions and contacts are announced retired.
    document["functions"] = [f for f in document["functions"] if f["unit"] != "hamnskolan"]
    document["contacts"] = [
        c for c in document["contacts"] if not c["contact"].startswith("hamnskolan-")
    ]
    document["units"] = [u for u in document["units"] if u["unit"] != "hamnskolan"]
    reimported = (await put("/admin/directory", json=document, headers=municipality.admin)).json()
    assert reimported == {"published": 0, "retired": 3 + 2 + 1, "key_problem": None}
    retired = await eventually(
        "the retirement to reach the region",
        lambda: _detail(region, municipality_id, "skolkurator-hamnskolan", "psychosocial"),
    )
    assert f"function {municipality_id}/skolkurator-hamnskolan was retired on" in retired

    # Rotation, step 1: the region announces its next key, signed by the key peers trust.
    await stack.aclose()
    key_2 = generate_key()
    region = await start(
        stack,
        Directory(
            region.principal,
            region.node.settings.dsn,
            kafka_bootstrap,
            signing_key=key_1,
            signing_key_id="key-1",
            signing_next_key=key_2,
            signing_next_key_id="key-2",
        ),
    )
    municipality = await start(
        stack, Directory(municipality_id, municipality.node.settings.dsn, kafka_bootstrap)
    )
    await eventually("the announced next key", lambda: key_at(municipality.node, "key-2", now))
    assert await key_at(municipality.node, "key-1", datetime.now(UTC) + timedelta(hours=25)) == (
        public_1
    ), "announcing the next key supersedes nothing yet"

    # Step 2: the region signs with the new key; the old one is superseded after the overlap.
    await stack.aclose()
    region = await start(
        stack,
        Directory(
            region.principal,
            region.node.settings.dsn,
            kafka_bootstrap,
            signing_key=key_2,
            signing_key_id="key-2",
        ),
    )
    municipality = await start(
        stack, Directory(municipality_id, municipality.node.settings.dsn, kafka_bootstrap)
    )
    await eventually("the new key", lambda: key_at(municipality.node, "key-2", now))
    later = datetime.now(UTC) + timedelta(hours=25)
    await eventually(
        "the old key's supersession", lambda: _true(key_at(municipality.node, "key-1", later), None)
    )
    assert await key_at(municipality.node, "key-1", datetime.now(UTC)) == public_1

    # A node started late rebuilds the same map from the log alone.
    late = await start(stack, Directory(unique("late"), new_database(), kafka_bootstrap))
    principals = [municipality_id, region_id]
    expected = await municipality.rows(principals)
    # Keys: the municipality's, and the region's first and rotated ones.
    assert len(expected["dir_functions"]) == 11 and len(expected["dir_keys"]) == 3
    await _converges(late, principals, expected)

    # A reset read model (or a node joining after retention) is rebuilt by republishing.
    await late.node.pool.execute(
        "TRUNCATE dir_principals, dir_units, dir_functions, dir_contacts, dir_keys"
    )
    for directory in (municipality, region):
        r = await directory.client.post("/admin/directory/republish", headers=directory.admin)
        assert r.status_code == 200 and r.json()["published"] > 0
    await _converges(late, principals, expected)


async def _detail(directory: Directory, of: str, function: str, need: str) -> str | None:
    r = await directory.routing(of, function, need)
    return r.json()["detail"] if r.status_code == 404 and "retired" in r.json()["detail"] else None


async def _true(awaitable: Any, expected: Any) -> bool:
    return (await awaitable) == expected


async def _converges(node: Directory, principals: list[str], expected: Any) -> None:
    async def same() -> bool:
        return await node.rows(principals) == expected

    try:
        await eventually("the node's map to equal the expected map", same, within=90)
    except AssertionError:
        assert await node.rows(principals) == expected  # shows the difference


async def test_entries_published_for_another_principal_are_refused_and_dead_lettered(
    database: str, kafka_bootstrap: str, stack: AsyncExitStack
) -> None:
    node = await start(stack, Directory(unique("kommun"), database, kafka_bootstrap))
    attacker, victim = unique("attacker"), unique("region")
    await seed_keys(node.node, attacker)  # a known principal, signing as itself
    forged = CloudEvent.wrap(
        FunctionPublished(
            principal=victim,
            function="uph-falsk",
            name="UPH-team",
            unit="vardcentralen",
            unit_name="Vårdcentralen",
            unit_kind=UnitKind.HEALTH_CENTRE,
            mailbox="attacker@evil.example",
            valid_from=date(2025, 1, 1),
        ),
        principal=attacker,
        service="directory",
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            forged.topic, forged.value(), key=forged.key(), headers=signed_headers(forged)
        )
    finally:
        await producer.stop()

    dead = await dead_letter_about(kafka_bootstrap, node.node.group, forged)
    assert "refused: a principal may only publish its own directory entries" in dead["reason"]
    async with node.node.uow() as tx:
        assert not await directory_view.exists(
            tx, FunctionRef(principal=victim, function="uph-falsk")
        )
