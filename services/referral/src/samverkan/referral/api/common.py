"""What every staff route shares: the caller, the use-case context, paging, refusals as problems."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from samverkan.contracts.referral import FunctionRef
from samverkan.referral.domain.consent import InvalidConsent, NotCovered
from samverkan.referral.domain.consultation import PersonalDataInText
from samverkan.referral.domain.lifecycle import IllegalTransition, NotAllowed
from samverkan.referral.domain.referral import Staff
from samverkan.referral.service.context import Context, NotFound
from samverkan.runtime import directory_view
from samverkan.runtime.auth import Caller, Role, require
from samverkan.runtime.db import UnitOfWork
from samverkan.runtime.idempotency import Idempotency, idempotency
from samverkan.runtime.problems import Problem

T = TypeVar("T")

_staff_caller = require(Role.STAFF)  # one callable, so FastAPI authenticates once per request


async def _context(request: Request) -> Context:
    return request.app.state.referral


async def _staff(caller: Annotated[Caller, Depends(_staff_caller)]) -> Staff:
    assert caller.function is not None
    return Staff(
        person=caller.person,
        function=FunctionRef(principal=caller.principal, function=caller.function),
    )


CallerDep = Annotated[Caller, Depends(_staff_caller)]
StaffDep = Annotated[Staff, Depends(_staff)]
ContextDep = Annotated[Context, Depends(_context)]
IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
Offset = Annotated[int, Query(ge=0, description="Items to skip.")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class UnknownRecipient(LookupError):
    """A named recipient function is not in the directory (or not valid today)."""


async def effect(
    ctx: Context,
    idem: Idempotency,
    caller: Caller,
    run: Callable[[UnitOfWork], Awaitable[Any]],
    status_code: int = 200,
) -> Response:
    """Run a use case in one transaction with the Idempotency-Key stored beside its effect."""
    return await idem.respond(ctx.uow(), caller, run, status_code)


async def named_recipient(run: Awaitable[T]) -> T:
    """Await a use case that routes to a function the caller named."""
    try:
        return await run
    except directory_view.NoRoute as exc:
        raise UnknownRecipient(str(exc)) from None


_REFUSALS: dict[type[Exception], tuple[int, str]] = {
    NotFound: (404, "Not found"),
    NotAllowed: (403, "Not allowed"),
    IllegalTransition: (409, "Illegal transition"),
    NotCovered: (422, "Missing consent"),
    InvalidConsent: (422, "Invalid consent"),
    PersonalDataInText: (422, "Personal data in anonymous text"),
    UnknownRecipient: (422, "Unknown recipient"),
    directory_view.NoRoute: (422, "No counterpart"),
}


def install_refusals(app: FastAPI) -> None:
    """Answer every domain refusal as problem+json with its precise message (call after
    `problems.install`, whose Problem handler writes the body)."""
    as_problem = app.exception_handlers[Problem]
    for exc_class, (status, title) in _REFUSALS.items():

        async def handler(request: Request, exc: Exception, s: int = status, t: str = title) -> Any:
            return await as_problem(request, Problem(s, t, str(exc)))

        app.add_exception_handler(exc_class, handler)
