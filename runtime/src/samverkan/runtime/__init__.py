"""Plumbing shared by every Samverkan service: one copy of each mechanism, imported by all."""
