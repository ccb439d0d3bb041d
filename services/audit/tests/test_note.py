"""Signed notes: checkpoint bodies, log signatures and witness cosignatures (C2SP formats)."""

from __future__ import annotations

import base64

import pytest

from samverkan.audit.note import (
    Checkpoint,
    NoteSigner,
    SignedNote,
    parse_vkey,
    verify_cosignature,
    verify_signature,
    vkey,
)
from samverkan.runtime.signing import generate_key

pytestmark = pytest.mark.unit

ROOT = bytes(range(32))


def test_checkpoint_body_is_the_c2sp_three_lines_and_parses_back() -> None:
    body = Checkpoint("samverkan/audit/x", 20852163, ROOT).body()
    assert body == f"samverkan/audit/x\n20852163\n{base64.b64encode(ROOT).decode()}\n"
    assert Checkpoint.parse(body) == Checkpoint("samverkan/audit/x", 20852163, ROOT)
    for bad in ("o\n012\nAA==\n", "o\n1\n", "o\n1\nAAAA\n"):
        with pytest.raises(ValueError):
            Checkpoint.parse(bad)


def test_the_c2sp_example_note_parses() -> None:
    example = (
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
        "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5"
        "/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    )
    note = SignedNote.parse(example)
    assert Checkpoint.parse(note.text).size == 20852163
    assert note.signatures[0].name == "example.com/behind-the-sofa"
    assert note.format() == example


def test_signature_and_cosignature_verify_under_their_keys_only() -> None:
    log, witness, other = (
        NoteSigner(generate_key()),
        NoteSigner(generate_key()),
        NoteSigner(generate_key()),
    )
    body = Checkpoint("samverkan/audit/a", 5, ROOT).body()
    note = SignedNote(body, (log.sign("samverkan/audit/a", body),))
    note = SignedNote.parse(note.with_signature(witness.cosign("w", body, 1679315147)).format())
    assert verify_signature(note, "samverkan/audit/a", log.public_key)
    assert not verify_signature(note, "samverkan/audit/a", other.public_key)
    assert verify_cosignature(note, "w", witness.public_key) == 1679315147
    assert verify_cosignature(note, "w", other.public_key) is None
    tampered = SignedNote(body.replace("\n5\n", "\n6\n"), note.signatures)
    assert not verify_signature(tampered, "samverkan/audit/a", log.public_key)
    assert verify_cosignature(tampered, "w", witness.public_key) is None


def test_vkey_round_trip_and_key_id_check() -> None:
    signer = NoteSigner(generate_key())
    key = vkey("samverkan/audit/a", signer.public_key)
    assert parse_vkey(key) == ("samverkan/audit/a", 1, signer.public_key)
    with pytest.raises(ValueError):
        parse_vkey(key.replace("samverkan/audit/a", "samverkan/audit/b", 1))
