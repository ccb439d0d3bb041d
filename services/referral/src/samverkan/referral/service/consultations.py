"""Consultation use cases: ask a counterpart anonymously, answer, read."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import TypeAdapter

from samverkan.contracts.consultation import AgeBand, ConsultationAnswered, ConsultationRequested
from samverkan.contracts.parties import FunctionRef, Need
from samverkan.referral.domain.consultation import Consultation, Side
from samverkan.referral.domain.lifecycle import NotAllowed
from samverkan.referral.domain.referral import Staff
from samverkan.referral.service.context import Context, Later, NotFound, Rejected
from samverkan.referral.store import copies
from samverkan.runtime import directory_view
from samverkan.runtime.db import UnitOfWork

_JSON = TypeAdapter(Consultation)


async def ask(
    ctx: Context,
    tx: UnitOfWork,
    by: Staff,
    *,
    need: Need,
    question: str,
    age_band: AgeBand | None,
    counterpart: FunctionRef | None,
) -> Consultation:
    """Ask the named function, or else the caller's formalised counterpart for the need."""
    if counterpart is None:
        target = await directory_view.counterpart(tx.conn, by.function, need, ctx.today())
    else:
        target = await directory_view.function(tx, counterpart, ctx.today())
    consultation, event = Consultation.ask(
        by=by,
        counterpart=target.ref,
        need=need,
        age_band=age_band,
        question=question,
        now=ctx.now(),
    )
    await _save(tx, consultation)
    await ctx.publish(tx, event, recipient=target.principal)
    return consultation


async def answer(
    ctx: Context,
    tx: UnitOfWork,
    by: Staff,
    consultation_id: UUID,
    *,
    text: str,
    referral_suggested: bool,
) -> Consultation:
    consultation = await load(tx, consultation_id, by, for_update=True)
    event = consultation.reply(
        by, answer=text, referral_suggested=referral_suggested, now=ctx.now()
    )
    await _save(tx, consultation)
    await ctx.publish(tx, event, recipient=consultation.requester.principal)
    return consultation


async def load(
    tx: UnitOfWork, consultation_id: UUID, by: Staff, *, for_update: bool = False
) -> Consultation:
    body = await copies.get_for(
        tx.conn, copies.CONSULTATIONS, consultation_id, by.function, for_update=for_update
    )
    if body is None:
        raise NotFound(f"no consultation {consultation_id} for function {by.function.function}")
    return _JSON.validate_python(body)


async def listing(
    tx: UnitOfWork, by: Staff, *, side: Side, answered: bool | None, limit: int, offset: int
) -> tuple[list[Consultation], int]:
    bodies, total = await copies.list_for(
        tx.conn, copies.CONSULTATIONS, by.function, side.value, answered, limit, offset
    )
    return [_JSON.validate_python(b) for b in bodies], total


async def requested(tx: UnitOfWork, event: ConsultationRequested) -> None:
    if await copies.get(tx.conn, copies.CONSULTATIONS, event.consultation_id, Side.COUNTERPART):
        raise Rejected(f"consultation {event.consultation_id} already exists here")
    if not await directory_view.exists(tx, event.counterpart):
        raise Later(f"function {event.counterpart.function} is not in this node's directory yet")
    await _save(tx, Consultation.receive(event))


async def answered(tx: UnitOfWork, event: ConsultationAnswered) -> None:
    body = await copies.get(
        tx.conn, copies.CONSULTATIONS, event.consultation_id, Side.REQUESTER, for_update=True
    )
    if body is None:
        raise Rejected(f"no consultation {event.consultation_id} asked from here")
    consultation = _JSON.validate_python(body)
    try:
        moved = consultation.follow(event)
    except NotAllowed as exc:
        raise Rejected(str(exc)) from None
    if moved:
        await _save(tx, consultation)


async def _save(tx: UnitOfWork, consultation: Consultation) -> None:
    body: dict[str, Any] = _JSON.dump_python(consultation, mode="json")
    await copies.save(
        tx.conn,
        copies.CONSULTATIONS,
        id=consultation.id,
        side=consultation.side.value,
        sender=consultation.requester,
        receiver=consultation.counterpart,
        flag=consultation.answered_at is not None,
        time=consultation.requested_at,
        body=body,
    )
