"""Access logging (Patientdatalagen 4 kap.): every read of personal content becomes an event."""

from __future__ import annotations

from uuid import UUID, uuid4

from samverkan.contracts.audit import AccessAction, AccessLogged
from samverkan.referral.domain.referral import Staff
from samverkan.referral.service.context import Context
from samverkan.runtime.db import UnitOfWork


async def log_read(
    ctx: Context, tx: UnitOfWork, by: Staff, resource_type: str, resource_id: UUID
) -> None:
    """Announce through the outbox, in the reading transaction, that `by` read the resource."""
    await ctx.publish(
        tx,
        AccessLogged(
            access_id=uuid4(),
            accessed_by=by.person,
            function=by.function,
            action=AccessAction.READ,
            resource_type=resource_type,
            resource_id=resource_id,
            accessed_at=ctx.now(),
        ),
        recipient=ctx.principal,
    )
