"""HTTP API for this principal's admins: webhook subscriptions and the delivery logs."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from samverkan.contracts.values import Slug
from samverkan.notification import store, webhook_payload
from samverkan.runtime.auth import Caller, Role, require
from samverkan.runtime.node import Node
from samverkan.runtime.problems import Problem

router = APIRouter(tags=["notification"])
Admin = Annotated[Caller, Depends(require(Role.ADMIN))]
Status = Literal["pending", "sending", "sent", "failed", "uncertain"]


class NewSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid")
    principal: Slug = Field(description="Whose events: must be this node's principal.")
    url: str = Field(max_length=2000, description="Where to POST; https:// in production.")
    event_types: list[str] = Field(min_length=1, description="CloudEvents types to receive.")
    include_personal_data: bool = Field(
        default=False,
        description="Deliver `data` of personal events too (otherwise only their envelope).",
    )


class Subscription(BaseModel):
    id: UUID
    principal: str
    url: str
    event_types: list[str]
    include_personal_data: bool
    created_at: datetime


class CreatedSubscription(Subscription):
    secret: str = Field(description="Signing secret (whsec_…); shown once, store it now.")


class WebhookDelivery(BaseModel):
    id: UUID = Field(description="Also the webhook-id header of the call.")
    about_event: UUID
    about_type: str
    status: Status
    attempts: int
    last_error: str | None
    last_status_code: int | None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None


class MailDelivery(BaseModel):
    id: UUID
    about_event: UUID
    about_type: str
    kind: str
    principal: str
    function: str
    status: Status
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None


def _node(request: Request) -> Node:
    return request.app.state.node


def _view(row: Any) -> dict[str, Any]:
    return {k: row[k] for k in Subscription.model_fields}


@router.post("/webhooks/subscriptions", status_code=201, summary="Subscribe a webhook")
async def subscribe(body: NewSubscription, request: Request, caller: Admin) -> CreatedSubscription:
    node = _node(request)
    if body.principal != caller.principal:
        raise Problem(403, "Forbidden", "Admins subscribe to their own principal's events only.")
    allowed = ("https://", "http://") if node.settings.webhook_allow_http else ("https://",)  # type: ignore[attr-defined]
    if not body.url.startswith(allowed) or any(c.isspace() for c in body.url):
        raise Problem(422, "Invalid URL", f"The URL must start with {' or '.join(allowed)}.")
    unknown = sorted(set(body.event_types) - webhook_payload.EVENT_TYPES)
    if unknown:
        raise Problem(422, "Unknown event types", f"Not offered by webhook: {', '.join(unknown)}.")
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    async with node.pool.acquire() as conn:
        row = await store.add_subscription(
            conn,
            id=uuid4(),
            principal=caller.principal,
            url=body.url,
            event_types=sorted(set(body.event_types)),
            include_personal_data=body.include_personal_data,
            secret=secret,
            created_by=caller.person,
            created_at=request.app.state.clock.now(),
        )
    return CreatedSubscription(**_view(row), secret=secret)


@router.get("/webhooks/subscriptions", summary="This principal's webhook subscriptions")
async def list_subscriptions(request: Request, caller: Admin) -> list[Subscription]:
    async with _node(request).pool.acquire() as conn:
        rows = await store.subscriptions(conn, caller.principal)
    return [Subscription(**_view(r)) for r in rows]


@router.get("/webhooks/subscriptions/{subscription_id}", summary="One webhook subscription")
async def get_subscription(subscription_id: UUID, request: Request, caller: Admin) -> Subscription:
    async with _node(request).pool.acquire() as conn:
        row = await store.subscription(conn, caller.principal, subscription_id)
    if row is None:
        raise Problem(404, "Not found", f"No subscription {subscription_id}.")
    return Subscription(**_view(row))


@router.delete("/webhooks/subscriptions/{subscription_id}", status_code=204)
async def unsubscribe(subscription_id: UUID, request: Request, caller: Admin) -> Response:
    async with _node(request).pool.acquire() as conn:
        deleted = await store.delete_subscription(
            conn, caller.principal, subscription_id, request.app.state.clock.now()
        )
    if not deleted:
        raise Problem(404, "Not found", f"No subscription {subscription_id}.")
    return Response(status_code=204)


@router.get(
    "/webhooks/subscriptions/{subscription_id}/deliveries",
    summary="The delivery log of one subscription, newest first",
)
async def webhook_log(
    subscription_id: UUID,
    request: Request,
    caller: Admin,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[WebhookDelivery]:
    async with _node(request).pool.acquire() as conn:
        if await store.subscription(conn, caller.principal, subscription_id) is None:
            raise Problem(404, "Not found", f"No subscription {subscription_id}.")
        rows = await store.webhook_log(conn, subscription_id, status, limit)
    return [WebhookDelivery(**dict(r)) for r in rows]


@router.get("/mail/deliveries", summary="The mail delivery log, newest first")
async def mail_log(
    request: Request,
    caller: Admin,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MailDelivery]:
    async with _node(request).pool.acquire() as conn:
        rows = await store.mail_log(conn, status, limit)
    return [MailDelivery(**dict(r)) for r in rows]
