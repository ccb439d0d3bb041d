"""The leaf check verify trusts is the one migration 0004 puts in place, word for word."""

from __future__ import annotations

from importlib.resources import files

import pytest

from samverkan.audit import store

pytestmark = pytest.mark.unit


def _words(text: str) -> list[str]:
    return text.split()


def test_the_migration_adds_exactly_store_leaf_check() -> None:
    migration = files("samverkan.audit").joinpath("migrations/0004_leaf_bytes.sql").read_text()
    statements = _words(migration)
    expected = _words(
        f"ALTER TABLE audit_log ADD CONSTRAINT audit_log_leaf_matches CHECK ({store.LEAF_CHECK});"
    )
    assert any(statements[i : i + len(expected)] == expected for i in range(len(statements))), (
        "migrations/0004_leaf_bytes.sql and store.LEAF_CHECK differ"
    )
