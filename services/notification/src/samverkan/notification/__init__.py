"""Notification service: tells functional mailboxes that something arrived, without personal data."""
