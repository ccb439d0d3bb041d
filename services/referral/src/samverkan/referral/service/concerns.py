"""Report of concern use cases: submit, receive, confirm, give feedback, read (access-logged)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import TypeAdapter

from samverkan.contracts.concern import (
    ConcernDecision,
    ConcernFeedbackGiven,
    ConcernReportReceived,
    ConcernReportSubmitted,
)
from samverkan.contracts.parties import Child, FunctionRef
from samverkan.referral.domain.concern import ConcernReport, ConcernState, Side
from samverkan.referral.domain.lifecycle import NotAllowed
from samverkan.referral.domain.referral import Staff
from samverkan.referral.service import access
from samverkan.referral.service.context import Context, Later, NotFound, Rejected
from samverkan.referral.store import copies
from samverkan.runtime import directory_view
from samverkan.runtime.db import UnitOfWork

_JSON = TypeAdapter(ConcernReport)


async def submit(
    ctx: Context,
    tx: UnitOfWork,
    by: Staff,
    *,
    recipient: FunctionRef,
    child: Child,
    concern: str,
    urgent: bool,
    guardians_informed: bool,
) -> ConcernReport:
    """To social services, in this principal or another: the duty to report, not consent."""
    target = await directory_view.function(tx, recipient, ctx.today())
    report, event = ConcernReport.submit(
        by=by,
        recipient=target.ref,
        child=child,
        concern=concern,
        urgent=urgent,
        guardians_informed=guardians_informed,
        now=ctx.now(),
    )
    await _save(tx, report)
    await ctx.publish(tx, event, recipient=target.principal)
    return report


async def give_feedback(
    ctx: Context, tx: UnitOfWork, by: Staff, report_id: UUID, *, decision: ConcernDecision
) -> ConcernReport:
    report = await _load(tx, report_id, by, for_update=True)
    event = report.give_feedback(by, decision=decision, now=ctx.now())
    await _save(tx, report)
    await ctx.publish(tx, event, recipient=report.reporter.principal)
    return report


async def read(ctx: Context, tx: UnitOfWork, by: Staff, report_id: UUID) -> ConcernReport:
    report = await _load(tx, report_id, by)
    await access.log_read(ctx, tx, by, "concern-report", report.id)
    return report


async def listing(
    tx: UnitOfWork,
    by: Staff,
    *,
    side: Side,
    state: ConcernState | None,
    limit: int,
    offset: int,
) -> tuple[list[ConcernReport], int]:
    bodies, total = await copies.list_for(
        tx.conn,
        copies.CONCERNS,
        by.function,
        side.value,
        state.value if state else None,
        limit,
        offset,
    )
    return [_JSON.validate_python(b) for b in bodies], total


async def received(ctx: Context, tx: UnitOfWork, event: ConcernReportSubmitted) -> None:
    """Store a report addressed here and confirm receipt to the reporter."""
    if await copies.get(tx.conn, copies.CONCERNS, event.report_id, Side.RECIPIENT.value):
        raise Rejected(f"report {event.report_id} already exists here")
    if not await directory_view.exists(tx, event.recipient):
        raise Later(f"function {event.recipient.function} is not in this node's directory yet")
    report, receipt = ConcernReport.receive(event, now=ctx.now())
    await _save(tx, report)
    await ctx.publish(tx, receipt, recipient=report.reporter.principal)


async def follow(tx: UnitOfWork, event: ConcernReportReceived | ConcernFeedbackGiven) -> None:
    body = await copies.get(
        tx.conn, copies.CONCERNS, event.report_id, Side.REPORTER.value, for_update=True
    )
    if body is None:
        raise Rejected(f"no submitted report {event.report_id} here")
    report = _JSON.validate_python(body)
    try:
        moved = report.follow(event)
    except NotAllowed as exc:
        raise Rejected(str(exc)) from None
    if moved:
        await _save(tx, report)


async def _load(
    tx: UnitOfWork, report_id: UUID, by: Staff, *, for_update: bool = False
) -> ConcernReport:
    body = await copies.get_for(
        tx.conn, copies.CONCERNS, report_id, by.function, for_update=for_update
    )
    if body is None:
        raise NotFound(f"no report of concern {report_id} for function {by.function.function}")
    return _JSON.validate_python(body)


async def _save(tx: UnitOfWork, report: ConcernReport) -> None:
    body: dict[str, Any] = _JSON.dump_python(report, mode="json")
    await copies.save(
        tx.conn,
        copies.CONCERNS,
        id=report.id,
        side=report.side.value,
        sender=report.reporter,
        receiver=report.recipient,
        flag=report.state.value,
        time=report.submitted_at,
        body=body,
    )
