"""Routing and keys over the read model in a real Postgres: what routes, and why not when not."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from samverkan.contracts import CloudEvent, Event
from samverkan.contracts.directory import (
    FormalisedContactPublished,
    FormalisedContactRetired,
    FunctionPublished,
    FunctionRetired,
    KeyRevocationReason,
    PrincipalKind,
    PrincipalPublished,
    PrincipalRetired,
    PublicKeyPublished,
    PublicKeyRevoked,
    UnitKind,
)
from samverkan.contracts.referral import FunctionRef, Need
from samverkan.runtime import directory_view
from samverkan.runtime.consumer import Refused
from samverkan.runtime.db import UnitOfWork, create_pool
from samverkan.runtime.migrations import DIRECTORY_VIEW, RUNTIME, migrate
from samverkan.runtime.signing import Signer, generate_key

pytestmark = pytest.mark.integration

SCHOOL, REGION = "sjostad-kommun", "vastra-regionen"
TODAY = date(2026, 3, 1)
MP, PS = Need.MEDICAL_PSYCHOLOGICAL, Need.PSYCHOSOCIAL
NURSE = FunctionRef(principal=SCHOOL, function="skolskoterska")
COUNSELLOR = FunctionRef(principal=SCHOOL, function="skolkurator")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database, [RUNTIME, DIRECTORY_VIEW])
    pool = await create_pool(database, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture(params=[False, True], ids=["alone", "together"])
def publish(pool: asyncpg.Pool, request: pytest.FixtureRequest) -> Callable[..., object]:
    """Apply directory events in one transaction: as one event alone, or as a batch applied
    together (which holds its upserts back until a read or the commit)."""

    async def apply(*events: Event, source: str | None = None) -> None:
        async with UnitOfWork(pool) as tx:
            tx.applies_together = request.param
            for data in events:
                principal = source or data.principal  # type: ignore[attr-defined]
                await directory_view.apply(
                    tx, CloudEvent.wrap(data, principal=principal, service="directory")
                )

    return apply


def function(principal: str, name: str, kind: UnitKind = UnitKind.SCHOOL, **kw: object) -> Event:
    return FunctionPublished(
        principal=principal,
        function=name,
        name=name.title(),
        unit="enheten",
        unit_name="Enheten",
        unit_kind=kind,
        mailbox=f"{name}@{principal}.example",
        valid_from=date(2025, 1, 1),
        **kw,  # type: ignore[arg-type]
    )


def contact(
    principal: str, name: str, fn: str, to: str, to_fn: str, need: Need, **kw: object
) -> Event:
    return FormalisedContactPublished(
        principal=principal,
        contact=name,
        function=fn,
        counterpart_principal=to,
        counterpart_function=to_fn,
        need=need,
        **({"valid_from": date(2025, 1, 1)} | kw),  # type: ignore[arg-type]
    )


async def route(pool: asyncpg.Pool, of: FunctionRef, need: Need, on: date = TODAY) -> str:
    async with pool.acquire() as conn:
        found = await directory_view.counterpart(conn, of, need, on)
    return f"{found.principal}/{found.function}"


async def no_route(pool: asyncpg.Pool, of: FunctionRef, need: Need, on: date = TODAY) -> str:
    with pytest.raises(directory_view.NoRoute) as caught:
        await route(pool, of, need, on)
    return str(caught.value)


@pytest.fixture
async def network(publish) -> None:  # type: ignore[no-untyped-def]
    """The model of the seeds: nurse ↔ UPH; counsellor ↔ socionom and ↔ social services."""
    await publish(
        PrincipalPublished(
            principal=SCHOOL,
            name="Sjöstads kommun",
            kind=PrincipalKind.MUNICIPALITY,
            organisation_number="212000-1231",
        ),
        function(SCHOOL, "skolskoterska"),
        function(SCHOOL, "skolkurator"),
        function(SCHOOL, "mottagning", UnitKind.SOCIAL_SERVICES_OFFICE),
        contact(SCHOOL, "sk-uph", "skolskoterska", REGION, "uph", MP),
        contact(SCHOOL, "ku-socionom", "skolkurator", REGION, "socionom", MP),
        contact(SCHOOL, "ku-soc", "skolkurator", SCHOOL, "mottagning", PS),
        function(REGION, "uph", UnitKind.HEALTH_CENTRE),
        function(REGION, "socionom", UnitKind.HEALTH_CENTRE),
        contact(REGION, "uph-sk", "uph", SCHOOL, "skolskoterska", MP),
        contact(REGION, "socionom-ku", "socionom", SCHOOL, "skolkurator", MP),
    )


async def test_each_need_routes_to_its_confirmed_counterpart(pool, network) -> None:  # type: ignore[no-untyped-def]
    assert await route(pool, NURSE, MP) == f"{REGION}/uph"
    assert await route(pool, COUNSELLOR, MP) == f"{REGION}/socionom"
    assert await route(pool, COUNSELLOR, PS) == f"{SCHOOL}/mottagning"  # one principal: no mirror
    assert "no formalised contact for need 'psychosocial'" in await no_route(pool, NURSE, PS)


async def test_a_proposal_without_confirmation_does_not_route(pool, network, publish) -> None:  # type: ignore[no-untyped-def]
    await publish(FormalisedContactRetired(principal=REGION, contact="uph-sk", retired_at=T0))
    problem = await no_route(pool, NURSE, MP)
    assert f"{SCHOOL}'s" not in problem
    assert "confirmation vastra-regionen/uph-sk was retired on 2026-01-01" in problem
    # A mirror for another need, or from another function, confirms nothing.
    await publish(contact(REGION, "uph-sk-2", "uph", SCHOOL, "skolskoterska", PS))
    await publish(contact(REGION, "socionom-sk", "socionom", SCHOOL, "skolskoterska", MP))
    assert "is proposed but not confirmed by vastra-regionen" in await no_route(pool, NURSE, MP)


async def test_expiry_and_retirement_stop_routing_naming_what_is_missing(
    pool, network, publish
) -> None:  # type: ignore[no-untyped-def]
    await publish(
        contact(REGION, "uph-sk", "uph", SCHOOL, "skolskoterska", MP, valid_to=date(2026, 6, 30))
    )
    assert await route(pool, NURSE, MP, date(2026, 6, 30)) == f"{REGION}/uph"
    problem = await no_route(pool, NURSE, MP, date(2026, 7, 1))
    assert "vastra-regionen's confirmation vastra-regionen/uph-sk expired on 2026-06-30" in problem

    await publish(
        contact(SCHOOL, "sk-uph", "skolskoterska", REGION, "uph", MP, valid_from=date(2026, 4, 1))
    )
    assert "contact sjostad-kommun/sk-uph is valid only from 2026-04-01" in await no_route(
        pool, NURSE, MP
    )

    await publish(FunctionRetired(principal=REGION, function="socionom", retired_at=T0))
    problem = await no_route(pool, COUNSELLOR, MP)
    assert "counterpart of contact sjostad-kommun/ku-socionom" in problem
    assert "function vastra-regionen/socionom was retired on 2026-01-01" in problem
    assert await route(pool, COUNSELLOR, PS) == f"{SCHOOL}/mottagning"

    await publish(FunctionRetired(principal=SCHOOL, function="skolkurator", retired_at=T0))
    assert "function sjostad-kommun/skolkurator was retired" in await no_route(pool, COUNSELLOR, PS)
    async with UnitOfWork(pool) as tx:
        assert await directory_view.exists(tx, COUNSELLOR), "a tombstone is still known"

    await publish(PrincipalRetired(principal=SCHOOL, retired_at=T0))
    assert "principal sjostad-kommun left the network" in await no_route(pool, NURSE, MP)


@pytest.mark.parametrize("together", [False, True], ids=["alone", "together"])
async def test_a_transaction_reads_a_function_once_until_it_changes_the_directory(
    pool, network, together: bool
) -> None:  # type: ignore[no-untyped-def]
    """A batch of events to one function looks it up once; a directory event applied in the same
    transaction makes the next lookup read afresh, so a retirement in a batch is seen at once
    (applied together, its upsert, held back till then, is sent before that read)."""
    async with UnitOfWork(pool) as tx:
        tx.applies_together = together
        assert (await directory_view.function(tx, NURSE, TODAY)).name == "Skolskoterska"
        async with UnitOfWork(pool) as other:  # committed elsewhere meanwhile
            await other.conn.execute(
                "UPDATE dir_functions SET name = 'Elevhälsan' WHERE function = $1", NURSE.function
            )
        assert (await directory_view.function(tx, NURSE, TODAY)).name == "Skolskoterska"
        await directory_view.apply(
            tx,
            CloudEvent.wrap(
                FunctionRetired(principal=SCHOOL, function=NURSE.function, retired_at=T0),
                principal=SCHOOL,
                service="directory",
            ),
        )
        retired = "SELECT retired_at IS NOT NULL FROM dir_functions WHERE function = $1"
        assert await tx.conn.fetchval(retired, NURSE.function) is not together
        with pytest.raises(directory_view.NoRoute, match="was retired on 2026-01-01"):
            await directory_view.function(tx, NURSE, TODAY)
        assert await directory_view.exists(tx, NURSE)


async def test_two_confirmed_counterparts_for_one_need_is_an_error_not_a_choice(
    pool, network, publish
) -> None:  # type: ignore[no-untyped-def]
    await publish(
        function(REGION, "uph-2", UnitKind.HEALTH_CENTRE),
        contact(SCHOOL, "sk-uph-2", "skolskoterska", REGION, "uph-2", MP),
        contact(REGION, "uph-2-sk", "uph-2", SCHOOL, "skolskoterska", MP),
    )
    with pytest.raises(directory_view.AmbiguousRoute, match="more than one counterpart"):
        await route(pool, NURSE, MP)
    # Ending one of them on a day makes the other the route from the next day.
    await publish(
        contact(SCHOOL, "sk-uph", "skolskoterska", REGION, "uph", MP, valid_to=date(2026, 2, 28))
    )
    assert await route(pool, NURSE, MP) == f"{REGION}/uph-2"


async def test_a_principal_cannot_publish_entries_of_another(publish) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused, match="only publish its own"):
        await publish(function(REGION, "uph"), source=SCHOOL)


async def test_keys_are_trusted_from_publication_until_revocation(pool, publish) -> None:  # type: ignore[no-untyped-def]
    one = Signer(generate_key(), "key-1").public_key_b64()
    two = Signer(generate_key(), "key-2").public_key_b64()

    def published(key_id: str, key: str) -> Event:
        return PublicKeyPublished(
            principal=REGION, key_id=key_id, algorithm="ed25519", public_key=key, valid_from=T0
        )

    async def key(key_id: str, at: datetime) -> str | None:
        async with pool.acquire() as conn:
            return await directory_view.key(conn, REGION, key_id, at)

    await publish(published("key-1", one))
    assert await key("key-1", T0) == one
    assert await key("key-1", T0 - timedelta(days=1)) == one  # signed before the announcement
    assert await key("key-2", T0) is None
    async with pool.acquire() as conn:
        assert await directory_view.key(conn, SCHOOL, "key-1", T0) is None

    # Rotation: key-2 published, key-1 superseded from a moment after an overlap.
    rotated = T0 + timedelta(days=30)
    await publish(
        published("key-2", two),
        PublicKeyRevoked(
            principal=REGION,
            key_id="key-1",
            reason=KeyRevocationReason.SUPERSEDED,
            revoked_at=rotated,
        ),
    )
    assert await key("key-1", rotated - timedelta(seconds=1)) == one
    assert await key("key-1", rotated) is None
    assert await key("key-2", rotated) == two

    # Compromise of key-2: nothing signed from then on is trusted, even before the revocation.
    since = rotated + timedelta(days=5)
    await publish(
        PublicKeyRevoked(
            principal=REGION,
            key_id="key-2",
            reason=KeyRevocationReason.COMPROMISED,
            compromised_since=since,
            revoked_at=since + timedelta(days=2),
        )
    )
    assert await key("key-2", since - timedelta(seconds=1)) == two
    assert await key("key-2", since + timedelta(days=1)) is None

    # Nothing un-revokes a key, and a key id never names another key.
    await publish(published("key-1", one))
    assert await key("key-1", rotated) is None
    with pytest.raises(Refused, match="never reused"):
        await publish(published("key-2", one))


async def test_upserts_held_back_in_a_batch_are_sent_in_their_order(pool, publish) -> None:  # type: ignore[no-untyped-def]
    """A function retired and published again in one batch is current; one published and then
    retired is not: the upserts go out in the events' order, runs of one statement together."""
    again, gone = function(SCHOOL, "elevhalsan"), function(SCHOOL, "fritids")
    await publish(
        again,
        gone,
        FunctionRetired(principal=SCHOOL, function="elevhalsan", retired_at=T0),
        FunctionRetired(principal=SCHOOL, function="fritids", retired_at=T0),
        again,
    )
    async with UnitOfWork(pool) as tx:
        assert (
            await directory_view.function(
                tx, FunctionRef(principal=SCHOOL, function="elevhalsan"), TODAY
            )
        ).name == "Elevhalsan"
        with pytest.raises(directory_view.NoRoute, match="was retired on 2026-01-01"):
            await directory_view.function(
                tx, FunctionRef(principal=SCHOOL, function="fritids"), TODAY
            )
