"""A witness cosigns consistent checkpoints and flags forks and rollbacks."""

from __future__ import annotations

import pytest

from samverkan.audit import merkle
from samverkan.audit.witness import TreeHead, Verdict, judge

pytestmark = pytest.mark.unit

LEAVES = [merkle.leaf_hash(bytes([i])) for i in range(10)]


def head(size: int, leaves: list[bytes] = LEAVES) -> TreeHead:
    return TreeHead(size, merkle.root(leaves[:size]))


def test_consistent_growth_is_cosigned_and_the_first_is_trusted() -> None:
    assert judge(None, head(3), None, []).verdict is Verdict.COSIGN
    proof = merkle.consistency_proof(3, LEAVES[:7])
    assert judge(head(3), head(7), 3, proof).verdict is Verdict.COSIGN
    assert judge(head(7), head(7), 3, proof).verdict is Verdict.SEEN


def test_a_fork_a_rollback_and_a_bad_proof_are_inconsistent() -> None:
    forked = [*LEAVES[:2], merkle.leaf_hash(b"rewritten"), *LEAVES[3:]]
    proof = merkle.consistency_proof(3, forked[:7])
    assert judge(head(3), head(7, forked), 3, proof).verdict is Verdict.INCONSISTENT
    assert judge(head(3), head(3, forked), 3, []).verdict is Verdict.INCONSISTENT
    assert judge(head(7), head(5), 3, []).verdict is Verdict.INCONSISTENT


def test_a_proof_from_an_unseen_checkpoint_is_not_judged() -> None:
    proof = merkle.consistency_proof(5, LEAVES[:7])
    judgement = judge(head(3), head(7), 5, proof)
    assert judgement.verdict is Verdict.GAP and "5" in judgement.reason
