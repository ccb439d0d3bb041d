"""A witness's judgement of a signed checkpoint against the last one it accepted. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from samverkan.audit import merkle


@dataclass(frozen=True)
class TreeHead:
    size: int
    root: bytes


class Verdict(Enum):
    COSIGN = "cosign"  # consistent with what we saw (or the first we see): cosign it
    SEEN = "seen"  # the very head we already cosigned
    GAP = "gap"  # its proof starts from a checkpoint we never accepted: cannot judge, no cosign
    INCONSISTENT = "inconsistent"  # a fork or a rollback: alert


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str = ""


def judge(
    last: TreeHead | None,
    new: TreeHead,
    previous_size: int | None,
    proof: Sequence[bytes],
) -> Judgement:
    """Decide about `new`, which claims to extend the log's checkpoint of `previous_size`."""
    if last is None:
        return Judgement(Verdict.COSIGN, "first checkpoint seen of this log")
    if new.size < last.size:
        return Judgement(
            Verdict.INCONSISTENT, f"tree size went back from {last.size} to {new.size}"
        )
    if new.size == last.size:
        if new.root == last.root:
            return Judgement(Verdict.SEEN)
        return Judgement(Verdict.INCONSISTENT, f"two different roots for tree size {new.size}")
    if previous_size != last.size:
        return Judgement(
            Verdict.GAP, f"proof is from size {previous_size}, last accepted is {last.size}"
        )
    if not merkle.verify_consistency(last.size, new.size, last.root, new.root, proof):
        return Judgement(
            Verdict.INCONSISTENT,
            f"the consistency proof from size {last.size} to {new.size} does not verify",
        )
    return Judgement(Verdict.COSIGN)
