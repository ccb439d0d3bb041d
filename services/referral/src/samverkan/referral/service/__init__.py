"""Use cases of the referral service: load → decide (domain) → save and publish in one transaction."""
