"""The staff HTTP API of the referral service (OpenAPI at /docs)."""

from samverkan.referral.api import concerns, consents, consultations, referrals
from samverkan.referral.api.common import install_refusals

ROUTERS = (referrals.router, consents.router, concerns.router, consultations.router)

__all__ = ["ROUTERS", "install_refusals"]
