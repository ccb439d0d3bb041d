"""Samverkan development network: embedded Kafka, Postgres and SMTP for demo, tests and dev."""
