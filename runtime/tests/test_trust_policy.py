"""Which first keys a node believes: any without configured fingerprints, else only pinned ones."""

from __future__ import annotations

from typing import Any

import pytest

from samverkan.runtime.consumer import Refused
from samverkan.runtime.settings import NodeSettings
from samverkan.runtime.signing import Signer, fingerprint, generate_key
from samverkan.runtime.trust import Policy

pytestmark = pytest.mark.unit

JWT_KEY = "a-token-key-long-enough-for-hs256-0123456789"


def public_key() -> str:
    return Signer(generate_key(), "key-1").public_key_b64()


def node(**fields: Any) -> NodeSettings:
    return NodeSettings(principal="sjostad-kommun", auth_jwt_key=JWT_KEY, **fields)


def test_without_fingerprints_every_first_key_is_trusted_on_first_use() -> None:
    policy = Policy.from_settings(node(signing_key=generate_key()))
    assert policy.on_first_use
    policy.refuse_unpinned("vastra-regionen", "key-1", public_key())


def test_a_pinned_principal_s_first_key_must_have_a_listed_fingerprint() -> None:
    right, wrong = public_key(), public_key()
    policy = Policy.from_settings(node(trusted_keys={"vastra-regionen": [fingerprint(right)]}))
    policy.refuse_unpinned("vastra-regionen", "key-1", right)
    with pytest.raises(Refused, match=r"vastra-regionen's key 'key-1' \(sha256:[0-9a-f]{64}\) is"):
        policy.refuse_unpinned("vastra-regionen", "key-1", wrong)


@pytest.mark.parametrize("trust_unlisted", [False, True])
def test_an_unlisted_principal_is_refused_unless_unlisted_ones_are_trusted(
    trust_unlisted: bool,
) -> None:
    listed = public_key()
    policy = Policy.from_settings(
        node(
            trusted_keys={"vastra-regionen": [fingerprint(listed)]},
            trust_unlisted_first_keys=trust_unlisted,
        )
    )
    if trust_unlisted:
        policy.refuse_unpinned("ostra-regionen", "key-1", public_key())
    else:
        with pytest.raises(Refused, match=r"\(none are configured for ostra-regionen\)$"):
            policy.refuse_unpinned("ostra-regionen", "key-1", public_key())


def test_this_node_s_own_keys_are_pinned_without_being_listed() -> None:
    own, upcoming = generate_key(), generate_key()
    policy = Policy.from_settings(
        node(
            signing_key=own,
            signing_next_key=upcoming,
            signing_next_key_id="key-2",
            trusted_keys={"vastra-regionen": [fingerprint(public_key())]},
            trust_unlisted_first_keys=True,  # own keys are pinned even so: no stranger's is ours
        )
    )
    for key in (own, upcoming):
        policy.refuse_unpinned("sjostad-kommun", "key-1", Signer(key, "key-1").public_key_b64())
    with pytest.raises(Refused, match="sjostad-kommun's key"):
        policy.refuse_unpinned("sjostad-kommun", "key-1", public_key())
