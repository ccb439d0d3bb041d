"""Signing keys: published once, rotated with an overlap, never reused or un-revoked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from samverkan.contracts.directory import KeyRevocationReason, PublicKeyPublished, PublicKeyRevoked
from samverkan.directory.keys import KeyProblem, SigningKey, key_changes, revocation
from samverkan.runtime.signing import Signer, generate_key

pytestmark = pytest.mark.unit

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def signing_key(key_id: str) -> SigningKey:
    return SigningKey(key_id, Signer(generate_key(), key_id).public_key_b64())


def test_the_configured_key_is_published_once() -> None:
    key = signing_key("key-1")
    [published] = key_changes("pid", {}, key, AT, DAY)
    assert isinstance(published, PublicKeyPublished)
    assert (published.key_id, published.public_key, published.valid_from) == (
        "key-1",
        key.public_key,
        AT,
    )
    assert key_changes("pid", {"key-1": published}, key, AT, DAY) == []


def test_a_new_key_supersedes_the_old_one_after_the_overlap() -> None:
    [old] = key_changes("pid", {}, signing_key("key-1"), AT, DAY)
    events = key_changes("pid", {"key-1": old}, signing_key("key-2"), AT + DAY, DAY)
    assert [type(e) for e in events] == [PublicKeyPublished, PublicKeyRevoked]
    revoked = events[1]
    assert isinstance(revoked, PublicKeyRevoked)
    assert revoked.key_id == "key-1"
    assert revoked.reason is KeyRevocationReason.SUPERSEDED
    assert revoked.revoked_at == AT + 2 * DAY


def test_a_key_id_is_never_reused_for_another_key_nor_after_revocation() -> None:
    [old] = key_changes("pid", {}, signing_key("key-1"), AT, DAY)
    with pytest.raises(KeyProblem, match="already names another public key"):
        key_changes("pid", {"key-1": old}, signing_key("key-1"), AT, DAY)
    gone = revocation("pid", {"key-1": old}, "key-1", KeyRevocationReason.RETIRED, None, AT)
    with pytest.raises(KeyProblem, match="was revoked"):
        key_changes("pid", {"key-1": gone}, signing_key("key-1"), AT, DAY)


def test_only_a_published_key_can_be_revoked_and_only_compromise_has_a_since() -> None:
    [old] = key_changes("pid", {}, signing_key("key-1"), AT, DAY)
    with pytest.raises(KeyProblem, match="no key 'key-9'"):
        revocation("pid", {"key-1": old}, "key-9", KeyRevocationReason.RETIRED, None, AT)
    with pytest.raises(KeyProblem, match="compromised_since"):
        revocation("pid", {"key-1": old}, "key-1", KeyRevocationReason.RETIRED, AT, AT)
