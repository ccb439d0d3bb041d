"""Audit service: the append-only, hash-chained trail of every event this principal sees."""
