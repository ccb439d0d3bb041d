"""The staff HTTP API of the referral service (OpenAPI at /docs)."""

from samverkan.referral.api import concerns, consents, consultations, moves, referrals
from samverkan.referral.api.common import install_refusals

ROUTERS = (referrals.router, moves.router, consents.router, concerns.router, consultations.router)

__all__ = ["ROUTERS", "install_refusals"]
