"""Republish order: a node rebuilding from scratch must meet the key that signs now first."""

from datetime import UTC, datetime

import pytest

from samverkan.contracts.directory import (
    KeyRevocationReason,
    PrincipalRetired,
    PublicKeyPublished,
    PublicKeyRevoked,
)
from samverkan.directory.service import in_republish_order
from samverkan.runtime.signing import Signer, generate_key

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 23, tzinfo=UTC)


def _published(key_id: str) -> PublicKeyPublished:
    public_key = Signer(generate_key(), key_id).public_key_b64()
    return PublicKeyPublished(
        principal="vastra-regionen",
        key_id=key_id,
        algorithm="ed25519",
        public_key=public_key,
        valid_from=AT,
    )


def _entry(n: int) -> PrincipalRetired:
    return PrincipalRetired(principal=f"gammal-{n}", retired_at=AT)


def test_the_signing_key_comes_first_then_other_keys_then_entries_in_their_order() -> None:
    old, current = _published("key-1"), _published("key-2")
    revoked = PublicKeyRevoked(
        principal="vastra-regionen",
        key_id="key-1",
        reason=KeyRevocationReason.SUPERSEDED,
        revoked_at=AT,
    )
    history = [_entry(1), old, _entry(2), revoked, current, _entry(3)]

    ordered = in_republish_order(history, signing_key_id="key-2")

    assert ordered == [current, old, revoked, _entry(1), _entry(2), _entry(3)]


def test_without_a_signing_key_keys_still_come_first_in_their_order() -> None:
    first, second = _published("key-1"), _published("key-2")
    ordered = in_republish_order([_entry(1), first, second], signing_key_id=None)
    assert ordered == [first, second, _entry(1)]
