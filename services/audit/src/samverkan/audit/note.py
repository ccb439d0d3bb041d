"""C2SP signed notes: tlog-checkpoint bodies, Ed25519 log signatures and witness cosignatures.

Formats: c2sp.org/signed-note (signature lines, key ids, vkeys), c2sp.org/tlog-checkpoint (origin,
tree size, base64 root) and c2sp.org/tlog-cosignature (timestamped Ed25519, type 0x04). Pure.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from samverkan.runtime.signing import Signer, verify_raw

ED25519 = 0x01
COSIGNATURE = 0x04
_DASH = "\u2014 "


def log_origin(principal: str) -> str:
    return f"samverkan/audit/{principal}"


def witness_name(principal: str) -> str:
    return f"samverkan/witness/{principal}"


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        lines = body.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not all(lines[:-1]):
            raise ValueError("a checkpoint body is at least three non-empty lines")
        origin, size, root = lines[0], lines[1], lines[2]
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise ValueError("the tree size is a decimal without leading zeroes")
        digest = base64.b64decode(root, validate=True)
        if len(digest) != 32:
            raise ValueError("the root hash is 32 bytes")
        return cls(origin, int(size), digest)


def key_id(name: str, kind: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public_key).digest()[:4]


def vkey(name: str, public_key: bytes, kind: int = ED25519) -> str:
    """The verifier key string `<name>+<key id hex>+<base64(type || key)>`."""
    encoded = base64.b64encode(bytes([kind]) + public_key).decode()
    return f"{name}+{key_id(name, kind, public_key).hex()}+{encoded}"


def parse_vkey(text: str) -> tuple[str, int, bytes]:
    """(name, signature type, public key) of a vkey; raise ValueError if its id does not match."""
    name, hex_id, encoded = text.strip().split("+", 2)
    raw = base64.b64decode(encoded, validate=True)
    kind, public_key = raw[0], raw[1:]
    if len(public_key) != 32 or key_id(name, kind, public_key) != bytes.fromhex(hex_id):
        raise ValueError(f"vkey {name!r} is malformed")
    return name, kind, public_key


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    value: bytes  # after the key id

    def line(self) -> str:
        return f"{_DASH}{self.name} {base64.b64encode(self.key_id + self.value).decode()}\n"


@dataclass(frozen=True)
class SignedNote:
    text: str
    signatures: tuple[Signature, ...]

    def format(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signature(self, signature: Signature) -> SignedNote:
        return SignedNote(self.text, (*self.signatures, signature))

    @classmethod
    def parse(cls, note: str) -> SignedNote:
        text, sep, block = note.rpartition("\n\n")
        if not sep or not block.endswith("\n"):
            raise ValueError("a signed note is text, a blank line and signature lines")
        signatures = []
        for line in block[:-1].split("\n"):
            if not line.startswith(_DASH):
                raise ValueError("a signature line starts with an em dash")
            name, _, encoded = line[len(_DASH) :].rpartition(" ")
            raw = base64.b64decode(encoded, validate=True)
            if not name or len(raw) < 5:
                raise ValueError("a signature line names a key and carries a signature")
            signatures.append(Signature(name, raw[:4], raw[4:]))
        return cls(text + "\n", tuple(signatures))


class NoteSigner:
    """Signs checkpoints (as the log) and cosigns others' (as a witness) with one Ed25519 key."""

    def __init__(self, private_key_b64: str) -> None:
        # The node's own signing key; signed notes only frame the bytes differently.
        self._key = Signer(private_key_b64, key_id="signed-note")
        self.public_key = base64.b64decode(self._key.public_key_b64())

    def sign(self, name: str, text: str) -> Signature:
        return Signature(
            name, key_id(name, ED25519, self.public_key), self._key.sign_bytes(text.encode())
        )

    def cosign(self, name: str, body: str, timestamp: int) -> Signature:
        signature = self._key.sign_bytes(_cosigned_message(body, timestamp))
        return Signature(
            name,
            key_id(name, COSIGNATURE, self.public_key),
            timestamp.to_bytes(8, "big") + signature,
        )


def _cosigned_message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def verify_signature(note: SignedNote, name: str, public_key: bytes) -> bool:
    """Whether `note` carries a valid log signature by (name, key)."""
    wanted = key_id(name, ED25519, public_key)
    for s in note.signatures:
        if s.name == name and s.key_id == wanted:
            return verify_raw(public_key, s.value, note.text.encode())
    return False


def verify_cosignature(note: SignedNote, name: str, public_key: bytes) -> int | None:
    """The timestamp of a valid cosignature by (name, key) on `note`, or None."""
    wanted = key_id(name, COSIGNATURE, public_key)
    for s in note.signatures:
        if s.name == name and s.key_id == wanted and len(s.value) == 72:
            timestamp = int.from_bytes(s.value[:8], "big")
            message = _cosigned_message(note.text, timestamp)
            return timestamp if verify_raw(public_key, s.value[8:], message) else None
    return None
