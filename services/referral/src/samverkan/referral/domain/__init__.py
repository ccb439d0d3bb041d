"""The referral service's domain: referrals, consents, reports of concern, consultations."""
