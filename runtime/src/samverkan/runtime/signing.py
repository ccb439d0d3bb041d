"""Event signatures: every principal signs what it publishes with Ed25519; consumers verify.

The signature covers the canonical bytes of an event: every CloudEvents attribute header
(`ce_*` except the signature headers themselves), the content type, and the value, so neither the
payload nor who it claims to come from can be changed without breaking it.

Keys are made and records signed with pyca/cryptography; every Ed25519 signature (records, and
the audit log's checkpoints and exports) is verified with libsodium (PyNaCl): it verifies faster
here and refuses small-order keys and points that OpenSSL accepts. Verification was the largest
single cost per event in the catch-up profile, so a large batch is verified in worker processes
(`verify_all`), on other cores than the consumer's.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

if TYPE_CHECKING:  # the worker processes import this module: keep what they load small
    from samverkan.runtime.settings import NodeSettings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "ce_signature"
KEY_ID_HEADER = "ce_signaturekeyid"
_UNSIGNED = {SIGNATURE_HEADER, KEY_ID_HEADER}


def generate_key() -> str:
    """A new private key, as base64 of its 32-byte seed (the form settings take)."""
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    return base64.b64encode(seed).decode()


def fingerprint(public_key_b64: str) -> str:
    """How operators name a public key when they pin it: "sha256:" and the hex SHA-256 of the raw
    32-byte Ed25519 key (not of its base64)."""
    raw = base64.b64decode(public_key_b64, validate=True)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes (base64 of them)")
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def canonical_bytes(headers: Iterable[tuple[str, bytes]], value: bytes) -> bytes:
    """Signed headers sorted by name, each as name=value, then the value; lengths prefix all."""
    signed = sorted(
        (k, v)
        for k, v in headers
        if (k.startswith("ce_") or k == "content-type") and k not in _UNSIGNED
    )
    parts = [f"{k}".encode() + b"=" + v for k, v in signed] + [value]
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


class Signer:
    """This principal's signing key."""

    @classmethod
    def from_settings(cls, settings: NodeSettings) -> Signer | None:
        if settings.signing_key is None:
            return None
        return cls(settings.signing_key.get_secret_value(), settings.signing_key_id)

    def __init__(self, private_key_b64: str, key_id: str) -> None:
        seed = base64.b64decode(private_key_b64, validate=True)
        if len(seed) != 32:
            raise ValueError("an Ed25519 signing key is 32 bytes (base64 of the seed)")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.key_id = key_id

    def public_key_b64(self) -> str:
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def sign_bytes(self, message: bytes) -> bytes:
        """A raw Ed25519 signature over `message` (for formats with their own framing)."""
        return self._key.sign(message)

    def sign_record(self, headers: dict[str, str], value: bytes) -> dict[str, str]:
        """Kafka record headers (as text) with the signature and key id added."""
        signed = self.sign([(k, v.encode()) for k, v in headers.items()], value)
        return {k: v.decode() for k, v in signed}

    def sign(self, headers: list[tuple[str, bytes]], value: bytes) -> list[tuple[str, bytes]]:
        """The headers with the signature and key id added."""
        signature = self._key.sign(canonical_bytes(headers, value))
        return [
            *[(k, v) for k, v in headers if k not in _UNSIGNED],
            (SIGNATURE_HEADER, base64.b64encode(signature)),
            (KEY_ID_HEADER, self.key_id.encode()),
        ]


Record = tuple[list[tuple[str, bytes]], bytes]  # a Kafka record's headers and value

_INLINE_BELOW = 16  # fewer records than this are verified inline: a hand-off costs more
# Processes, not threads: libsodium releases the GIL inside a check, but a thread needs the GIL
# back between two records, and an event loop busy applying the previous events holds it for
# whole switch intervals, so verifying threads stalled exactly while there was other work to
# overlap with. A worker process has its own GIL; pickling a record costs a few µs.
# One CPU stays the event loop's; a batch of 500 needs no more than a few.
_PROCESSES = max(1, min(len(os.sched_getaffinity(0)) - 1, 4))
_PARENT_WATCH_S = 1.0
_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def verify(public_key_b64: str, headers: list[tuple[str, bytes]], value: bytes) -> bool:
    """Whether the record's signature header verifies under `public_key_b64`."""
    found = dict(headers).get(SIGNATURE_HEADER)
    if found is None:
        return False
    try:
        signature = base64.b64decode(found, validate=True)
        return _verify(_public_key(public_key_b64), signature, canonical_bytes(headers, value))
    except ValueError:
        return False


def verify_raw(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether `signature` is a valid Ed25519 signature of `message` by the raw 32-byte key."""
    try:
        return _verify(VerifyKey(public_key), signature, message)
    except ValueError:
        return False


def _verify(key: VerifyKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(message, signature)
    except (BadSignatureError, ValueError):
        return False
    return True


async def verify_all(checks: Sequence[tuple[str, Record]]) -> list[bool]:
    """`verify` for each (public key, record), in order. A large batch is shared out to worker
    processes, so the event loop is free meanwhile (the consumer applies the batch as it waits);
    should a worker die, the batch is verified on a thread instead and the next gets new ones."""
    if len(checks) < _INLINE_BELOW:
        return _verify_each(checks)
    pool = _verifiers()
    loop = asyncio.get_running_loop()
    size = -(-len(checks) // _PROCESSES)
    try:
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(pool, _verify_each, checks[i : i + size])
                for i in range(0, len(checks), size)
            )
        )
    except BrokenProcessPool:
        log.warning("a signature-verifying process died; starting new ones")
        _discard(pool)
        return await asyncio.to_thread(_verify_each, checks)
    return [ok for part in parts for ok in part]


def _verifiers() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                _PROCESSES,
                mp_context=multiprocessing.get_context(
                    "spawn"
                ),  # forking a threaded process is unsafe
                initializer=_worker_started,
                initargs=(os.getpid(),),
            )
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def _worker_started(parent: int) -> None:
    """In a worker process: Ctrl-C is the service's to handle, and a worker whose service died
    (even by SIGKILL, which leaves it no time to stop its workers) ends too."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_WATCH_S)
        os._exit(0)

    threading.Thread(target=watch, name="watch-service", daemon=True).start()


def _verify_each(checks: Sequence[tuple[str, Record]]) -> list[bool]:
    return [verify(key, headers, value) for key, (headers, value) in checks]


@functools.lru_cache(maxsize=256)
def _public_key(public_key_b64: str) -> VerifyKey:
    raw = base64.b64decode(public_key_b64, validate=True)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return VerifyKey(raw)
