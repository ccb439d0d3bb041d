"""The Merkle tree against the public RFC 6962 test vectors of transparency-dev/merkle."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from samverkan.audit import merkle

pytestmark = pytest.mark.unit

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "rfc6962_vectors.json").read_text()
)
LEAVES = [merkle.leaf_hash(bytes.fromhex(h)) for h in VECTORS["leaves"]]
ROOTS = [bytes.fromhex(h) for h in VECTORS["roots"]]


def _hashes(items: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in items]


def test_roots_of_every_prefix_match_the_vectors() -> None:
    assert merkle.root([]) == merkle.EMPTY_ROOT
    for size in range(1, 9):
        assert merkle.root(LEAVES[:size]) == ROOTS[size - 1], size


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}@{c['size']}")
def test_inclusion_proofs_match_and_verify(case: dict[str, Any]) -> None:
    index, size, proof = case["index"], case["size"], _hashes(case["proof"])
    assert merkle.inclusion_proof(index, LEAVES[:size]) == proof
    assert merkle.verify_inclusion(index, size, LEAVES[index], proof, ROOTS[size - 1])
    assert not merkle.verify_inclusion(index, size * 2, LEAVES[index], proof, ROOTS[size - 1])
    for i in range(len(proof)):
        bent = [*proof]
        bent[i] = bytes([bent[i][0] ^ 8]) + bent[i][1:]
        assert not merkle.verify_inclusion(index, size, LEAVES[index], bent, ROOTS[size - 1])


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: f"{c['size1']}-{c['size2']}")
def test_consistency_proofs_match_and_verify(case: dict[str, Any]) -> None:
    size1, size2, proof = case["size1"], case["size2"], _hashes(case["proof"])
    root1, root2 = ROOTS[size1 - 1], ROOTS[size2 - 1]
    assert merkle.consistency_proof(size1, LEAVES[:size2]) == proof
    assert merkle.verify_consistency(size1, size2, root1, root2, proof)
    if proof:
        assert not merkle.verify_consistency(size1, size2, root2, root1, proof)
        assert not merkle.verify_consistency(size1, size2, root1, root2, proof[:-1])
        assert not merkle.verify_consistency(size1 + 1, size2, root1, root2, proof)


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


@pytest.mark.parametrize("name", sorted(VECTORS["testdata_inclusion"]))
def test_testdata_inclusion_cases(name: str) -> None:
    c = VECTORS["testdata_inclusion"][name]
    ok = merkle.verify_inclusion(
        c["leafIdx"],
        c["treeSize"],
        _b64(c["leafHash"]),
        [_b64(p) for p in c["proof"]],
        _b64(c["root"]),
    )
    assert ok is not c["wantErr"]


@pytest.mark.parametrize("name", sorted(VECTORS["testdata_consistency"]))
def test_testdata_consistency_cases(name: str) -> None:
    c = VECTORS["testdata_consistency"][name]
    ok = merkle.verify_consistency(
        c["size1"], c["size2"], _b64(c["root1"]), _b64(c["root2"]), [_b64(p) for p in c["proof"]]
    )
    assert ok is not c["wantErr"]


def test_edge_cases_of_consistency() -> None:
    empty = merkle.EMPTY_ROOT
    assert merkle.verify_consistency(0, 0, empty, empty, [])
    assert merkle.verify_consistency(0, 1, empty, ROOTS[0], [])
    assert not merkle.verify_consistency(0, 1, empty, ROOTS[0], [empty])
    assert not merkle.verify_consistency(1, 1, ROOTS[0], ROOTS[1], [])
    assert not merkle.verify_consistency(2, 1, ROOTS[1], ROOTS[0], [])


def test_every_proof_of_larger_trees_verifies() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(37)]
    for size in (1, 2, 5, 16, 17, 37):
        tree = leaves[:size]
        head = merkle.root(tree)
        for index in range(size):
            proof = merkle.inclusion_proof(index, tree)
            assert merkle.verify_inclusion(index, size, tree[index], proof, head)
        for size1 in range(size + 1):
            proof = merkle.consistency_proof(size1, tree)
            assert merkle.verify_consistency(size1, size, merkle.root(tree[:size1]), head, proof)


def test_a_compact_range_extended_in_steps_gives_every_root_of_the_vectors() -> None:
    range_, size = [], 0
    for step in (1, 2, 3, 1, 1):  # 8 leaves in uneven steps
        range_ = merkle.extend(range_, size, LEAVES[size : size + step])
        size += step
        assert merkle.range_root(range_) == ROOTS[size - 1]
        assert len(range_) == size.bit_count()
    assert merkle.range_root([]) == merkle.EMPTY_ROOT


def test_consistency_from_the_compact_range_equals_the_proof_from_every_leaf() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(41)]
    for n in range(42):
        for size1 in range(n + 1):
            range1 = merkle.compact_range(leaves[:size1])
            expected = merkle.consistency_proof(size1, leaves[:n])
            assert merkle.consistency_proof_extending(size1, range1, leaves[size1:n]) == expected
            assert merkle.range_root(merkle.extend(range1, size1, leaves[size1:n])) == (
                merkle.root(leaves[:n])
            )


def test_a_range_that_does_not_fit_its_size_is_refused() -> None:
    range3 = merkle.compact_range(LEAVES[:3])
    with pytest.raises(ValueError, match="2 roots"):
        merkle.extend(range3[:1], 3, LEAVES[3:5])
    with pytest.raises(ValueError, match="2 roots"):
        merkle.consistency_proof_extending(3, range3 + range3, LEAVES[3:5])
