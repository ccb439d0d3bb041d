"""A verifying process's side of `verifiers`: read a part of a batch from the service (a
pickle), answer one byte per record (after its length), until the service's end of the pipe
closes.

It imports as little as it can (not `verifiers`, which loads asyncio): each worker's own memory
counts towards its service's.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from collections.abc import Sequence

from samverkan.runtime.signing import Record, verify

LENGTH = 8  # bytes of the big-endian length before each answer
COMMAND = "from samverkan.runtime import verify_worker; verify_worker.serve()"

Check = tuple[str, Record]  # a public key (base64) and the record it must have signed


def serve() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the service's to handle
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nothing printed can corrupt an answer
    requests = sys.stdin.buffer
    while True:
        try:
            # Read as it arrives, a frame at a time: no copy of the whole part is ever held.
            checks = pickle.load(requests)
        except (EOFError, pickle.UnpicklingError):  # the service is gone, maybe mid-part
            return
        verdicts = bytes(verify_each(checks))
        answers.write(len(verdicts).to_bytes(LENGTH, "big") + verdicts)
        answers.flush()


def verify_each(checks: Sequence[Check]) -> list[bool]:
    """`signing.verify` for each (public key, record), in order."""
    return [verify(key, headers, value) for key, (headers, value) in checks]
