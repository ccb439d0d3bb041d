"""Referral service: referrals sent and received by this principal's functions."""
