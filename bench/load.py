"""An open-loop referral load on a two-principal network: send, see it arrive, accept, see that.

Referrals are sent on a fixed schedule whatever the answers (open loop), so a slow service shows
up as latency instead of silently lowering the offered rate. Arrival is watched in the databases
(one indexed query per poll for everything outstanding) rather than by polling the HTTP API, which
would add its own requests to the load it measures.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import httpx

from bench import sample
from bench.options import sends
from samverkan.devnet import scenario
from samverkan.devnet.network import Network, Principal
from samverkan.runtime.auth import Role

MAX_IN_FLIGHT = 256  # requests beyond this are counted as dropped, not queued


@dataclass
class Trip:
    """One referral's timeline on the driver's monotonic clock (seconds)."""

    posted: float
    created: float | None = None  # sender's HTTP 2xx
    in_inbox: float | None = None  # first seen in the recipient's database
    accepted: float | None = None  # recipient's accept HTTP 2xx
    seen_accepted: float | None = None  # sender's database shows 'accepted'

    @property
    def done(self) -> bool:
        return self.seen_accepted is not None


@dataclass
class LoadResult:
    rate: float
    duration_s: float
    trips: dict[UUID, Trip]
    failed: int
    dropped: int
    started: float

    def inbox_latencies(self) -> list[float]:
        return [t.in_inbox - t.created for t in self.trips.values() if t.in_inbox and t.created]

    def accept_latencies(self) -> list[float]:
        return [
            t.seen_accepted - t.accepted
            for t in self.trips.values()
            if t.seen_accepted and t.accepted
        ]

    def send_latencies(self) -> list[float]:
        return [t.created - t.posted for t in self.trips.values() if t.created]


def _dsn(principal: Principal, service: str) -> str:
    return principal.services[service].env[f"SAMVERKAN_{service.upper()}_DATABASE_URL"]


def _client(
    principal: Principal, function: str | None, role: Role, person: str
) -> httpx.AsyncClient:
    token = principal.token(person=person, function=function, roles=[role])
    return httpx.AsyncClient(
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
    )


class Driver:
    """Drives referrals from the municipality's school nurse to the region's UPH team."""

    def __init__(self, net: Network, poll_s: float) -> None:
        self.sender = net.principals[scenario.MUNICIPALITY]
        self.recipient = net.principals[scenario.REGION]
        self._poll_s = poll_s
        self._nurse = _client(self.sender, scenario.SCHOOL_NURSE, Role.STAFF, "SE2120001231-b1")
        self._uph = _client(self.recipient, scenario.UPH_TEAM, Role.STAFF, "SE2321004562-b2")
        # The watcher's own connections, one query at a time: a pool would add a round trip to
        # reset the session after each of its polls, on the Postgres the services use.
        self._sender_db: asyncpg.Connection | None = None
        self._recipient_db: asyncpg.Connection | None = None

    async def __aenter__(self) -> Driver:
        try:
            self._sender_db = await asyncpg.connect(_dsn(self.sender, "referral"))
            self._recipient_db = await asyncpg.connect(_dsn(self.recipient, "referral"))
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._nurse.aclose()
        await self._uph.aclose()
        for conn in (self._sender_db, self._recipient_db):
            if conn is not None:
                await conn.close()

    async def publish_directories(self, within_s: float = 60.0) -> None:
        """Import both directories, then wait until the sender's referral service can route."""
        for principal in (self.sender, self.recipient):
            async with _client(principal, None, Role.ADMIN, f"admin@{principal.id}") as admin:
                r = await admin.put(
                    principal.url("directory") + "/admin/directory",
                    json=scenario.dataset(principal.id),
                )
                r.raise_for_status()
        deadline = time.monotonic() + within_s
        while True:
            r = await self._post()
            if r.status_code == 201:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the referral service never routed: {r.text}")
            await asyncio.sleep(0.2)

    async def run(self, rate: float, duration_s: float, drain_s: float) -> LoadResult:
        """Send `rate` referrals/s for `duration_s`; wait up to `drain_s` for all to be accepted."""
        result = LoadResult(rate, duration_s, {}, 0, 0, time.perf_counter())
        in_flight: set[asyncio.Task[None]] = set()
        inbox: dict[UUID, Trip] = {}
        accepting: dict[UUID, Trip] = {}

        async def send() -> None:
            trip = Trip(posted=time.perf_counter())
            try:
                r = await self._post()
            except httpx.HTTPError:
                result.failed += 1
                return
            if r.status_code != 201:
                result.failed += 1
                return
            trip.created = time.perf_counter()
            referral_id = UUID(r.json()["id"])
            result.trips[referral_id] = trip
            inbox[referral_id] = trip

        async def accept(referral_id: UUID, trip: Trip) -> None:
            url = f"{self.recipient.url('referral')}/referrals/{referral_id}/accept"
            try:
                r = await self._uph.post(url)
            except httpx.HTTPError:
                result.failed += 1
                return
            if r.status_code != 200:
                result.failed += 1
                return
            trip.accepted = time.perf_counter()
            accepting[referral_id] = trip

        def spawn(coro: object) -> None:
            task = asyncio.ensure_future(coro)  # type: ignore[arg-type]
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)

        async def watch(stop: asyncio.Event) -> None:
            assert self._recipient_db is not None and self._sender_db is not None
            while not stop.is_set():
                if inbox:
                    found = await self._recipient_db.fetch(
                        "SELECT id FROM referrals WHERE direction = 'incoming'"
                        " AND id = ANY($1::uuid[])",
                        list(inbox),
                    )
                    now = time.perf_counter()
                    for row in found:
                        trip = inbox.pop(row["id"])
                        trip.in_inbox = now
                        spawn(accept(row["id"], trip))
                if accepting:
                    found = await self._sender_db.fetch(
                        "SELECT id FROM referrals WHERE direction = 'outgoing'"
                        " AND status = 'accepted' AND id = ANY($1::uuid[])",
                        list(accepting),
                    )
                    now = time.perf_counter()
                    for row in found:
                        accepting.pop(row["id"]).seen_accepted = now
                await asyncio.sleep(self._poll_s)

        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(stop))
        count = sends(rate, duration_s)
        for i in range(count):
            await asyncio.sleep(max(0.0, result.started + i / rate - time.perf_counter()))
            if len(in_flight) >= MAX_IN_FLIGHT:
                result.dropped += 1
                continue
            spawn(send())
        deadline = time.perf_counter() + drain_s
        while time.perf_counter() < deadline and (in_flight or inbox or accepting):
            if watcher.done():
                break
            await asyncio.sleep(0.05)
        stop.set()
        await watcher  # a database error stops the run with its real cause
        for task in list(in_flight):
            task.cancel()
        return result

    async def _post(self) -> httpx.Response:
        return await self._nurse.post(
            self.sender.url("referral") + "/referrals", json=sample.referral_body()
        )
