"""Ed25519 event signatures: what they cover and what breaks them."""

import base64

import pytest

from samverkan.runtime.signing import (
    Signer,
    canonical_bytes,
    fingerprint,
    generate_key,
    verify,
    verify_raw,
)

pytestmark = pytest.mark.unit

HEADERS = [
    ("ce_id", b"1"),
    ("ce_type", b"se.samverkan.referral.accepted.v1"),
    ("ce_sourceprincipal", b"vastra-regionen"),
    ("content-type", b"application/json"),
    ("traceparent", b"00-abc-def-01"),
]
VALUE = b'{"referral_id": "x"}'


def test_a_signed_record_verifies_under_its_key_only() -> None:
    signer, other = Signer(generate_key(), "key-1"), Signer(generate_key(), "key-2")
    signed = signer.sign(HEADERS, VALUE)
    assert dict(signed)["ce_signaturekeyid"] == b"key-1"
    assert verify(signer.public_key_b64(), signed, VALUE)
    assert not verify(other.public_key_b64(), signed, VALUE)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, v: (h, v.replace(b"x", b"y")),
        lambda h, v: (
            [(k, b"sjostad-kommun" if k == "ce_sourceprincipal" else x) for k, x in h],
            v,
        ),
        lambda h, v: ([*h, ("ce_recipientprincipal", b"someone")], v),
        lambda h, v: ([(k, x) for k, x in h if k != "ce_signature"], v),
    ],
)
def test_any_change_to_attributes_or_value_breaks_it(tamper) -> None:  # type: ignore[no-untyped-def]
    signer = Signer(generate_key(), "key-1")
    headers, value = tamper(signer.sign(HEADERS, VALUE), VALUE)
    assert not verify(signer.public_key_b64(), headers, value)


def test_headers_outside_the_envelope_are_not_covered() -> None:
    # traceparent is transport context for tracing, not an attribute of the event itself.
    moved = [(k, b"00-zzz-yyy-01" if k == "traceparent" else v) for k, v in HEADERS]
    assert canonical_bytes(HEADERS, VALUE) == canonical_bytes(moved, VALUE)


def test_the_signed_bytes_keep_their_layout() -> None:
    """Other nodes sign and verify these exact bytes: signed headers sorted by name, each
    `name=value`, then the value, every part after its length in 4 big-endian bytes."""
    assert canonical_bytes(HEADERS, VALUE) == (
        b"\x00\x00\x00\x07ce_id=1"
        b"\x00\x00\x00\x22ce_sourceprincipal=vastra-regionen"
        b"\x00\x00\x00\x29ce_type=se.samverkan.referral.accepted.v1"
        b"\x00\x00\x00\x1dcontent-type=application/json"
        b"\x00\x00\x00\x14" + VALUE
    )


def test_the_signed_bytes_keep_their_layout_at_the_edges() -> None:
    """Repeated names (ordered by value), an empty value, a name beyond ASCII (its UTF-8 bytes
    counted), and what is never signed: the signature headers, and names outside the envelope."""
    headers = [
        ("ce_x", b"b"),
        ("authorization", b"z"),
        ("ce_x", b"a"),
        ("ce_y", b""),
        ("ce_\u00e5", b"1"),
        ("ce_signature", b"s"),
        ("ce_signaturekeyid", b"k"),
    ]
    assert canonical_bytes(headers, b"") == (
        b"\x00\x00\x00\x06ce_x=a"
        b"\x00\x00\x00\x06ce_x=b"
        b"\x00\x00\x00\x05ce_y="
        b"\x00\x00\x00\x07ce_\xc3\xa5=1"
        b"\x00\x00\x00\x00"
    )


def test_a_malformed_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Signer("c2hvcnQ=", "key-1")


def test_a_fingerprint_is_the_sha256_of_the_raw_key_bytes() -> None:
    all_zero = "A" * 43 + "="  # base64 of 32 zero bytes
    # SHA-256 of 32 zero bytes, a published value (not recomputed here).
    expected = "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
    assert fingerprint(all_zero) == f"sha256:{expected}"


def test_keys_have_their_own_fingerprints_and_short_keys_none() -> None:
    one, other = Signer(generate_key(), "key-1"), Signer(generate_key(), "key-1")
    assert fingerprint(one.public_key_b64()) != fingerprint(other.public_key_b64())
    with pytest.raises(ValueError, match="32 bytes"):
        fingerprint("c2hvcnQ=")


def test_raw_signatures_verify_under_their_key_only() -> None:
    signer, other = Signer(generate_key(), "key-1"), Signer(generate_key(), "key-2")
    public = base64.b64decode(signer.public_key_b64())
    signature = signer.sign_bytes(b"checkpoint")
    assert verify_raw(public, signature, b"checkpoint")
    assert not verify_raw(public, signature, b"checkpoint!")
    assert not verify_raw(base64.b64decode(other.public_key_b64()), signature, b"checkpoint")
    assert not verify_raw(public[:31], signature, b"checkpoint")
    assert not verify_raw(public, signature[:63], b"checkpoint")


def test_signatures_are_rfc_8032s() -> None:
    # RFC 8032, section 7.1, test 2: a one-byte message.
    seed = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
    signer = Signer(base64.b64encode(seed).decode(), "key-1")
    assert base64.b64decode(signer.public_key_b64()).hex() == (
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    )
    assert signer.sign_bytes(bytes([0x72])).hex() == (
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    )


def test_a_small_order_key_verifies_nothing() -> None:
    # The identity point as the key, with R = identity and S = 0, satisfies the verification
    # equation for every message; OpenSSL accepts it, libsodium refuses such keys.
    identity = bytes([1]) + bytes(31)
    assert not verify_raw(identity, identity + bytes(32), b"anything at all")


def test_a_key_of_the_wrong_length_verifies_nothing() -> None:
    signer = Signer(generate_key(), "key-1")
    assert not verify("c2hvcnQ=", signer.sign(HEADERS, VALUE), VALUE)
