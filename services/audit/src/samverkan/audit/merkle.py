"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs. Pure functions.

Leaves are given as their leaf hashes (SHA-256 of 0x00 || data); interior nodes hash 0x01 || left
|| right; the tree over n leaves splits at the largest power of two smaller than n.

A tree's *compact range* is the roots of the perfect subtrees its leaves split into, largest
first (one per bit of n). It is all a later tree needs of an earlier one: the root, the extension
by new leaves and the consistency proof follow from it and the new leaves alone, so a log signs
checkpoints without reading its whole history again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """The tree head over `leaves` (leaf hashes)."""
    return range_root(compact_range(leaves))


def compact_range(leaves: Sequence[bytes]) -> list[bytes]:
    """The roots of the perfect subtrees the tree over `leaves` splits into, largest first."""
    return extend([], 0, leaves)


def _widths(size: int, range_: Sequence[bytes]) -> list[int]:
    """The leaf counts of the compact range of `size` leaves, largest first (one per bit)."""
    widths = [1 << bit for bit in reversed(range(size.bit_length())) if size >> bit & 1]
    if len(widths) != len(range_):
        raise ValueError(f"a compact range of {size} leaves has {len(widths)} roots")
    return widths


def extend(range_: Sequence[bytes], size: int, leaves: Sequence[bytes]) -> list[bytes]:
    """The compact range of a tree of `size` leaves extended by `leaves`."""
    _widths(size, range_)  # refuses a range that is not one of `size` leaves
    values, sha256 = list(range_), hashlib.sha256
    for leaf in leaves:
        # A leaf joins one subtree on the right for each trailing 1 bit of the size so far.
        value, carry = leaf, size
        while carry & 1:
            value = sha256(b"\x01" + values.pop() + value).digest()
            carry >>= 1
        values.append(value)
        size += 1
    return values


def range_root(range_: Sequence[bytes]) -> bytes:
    """The tree head of a compact range."""
    if not range_:
        return EMPTY_ROOT
    value = range_[-1]
    for left in reversed(range_[:-1]):
        value = node_hash(left, value)
    return value


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[0:n]) of RFC 9162 §2.1.3.1."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of size {len(leaves)}")
    proof: list[bytes] = []
    lo, hi = 0, len(leaves)
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            proof.append(root(leaves[lo + k : hi]))
            hi = lo + k
        else:
            proof.append(root(leaves[lo : lo + k]))
            lo += k
    return proof[::-1]


def consistency_proof(size1: int, leaves: Sequence[bytes]) -> list[bytes]:
    """PROOF(size1, D[0:n]) of RFC 9162 §2.1.4.1."""
    n = len(leaves)
    if not 0 <= size1 <= n:
        raise ValueError(f"size {size1} is not within a tree of size {n}")
    return _consistency(size1, n, lambda lo, hi: root(leaves[lo:hi]))


def consistency_proof_extending(
    size1: int, range1: Sequence[bytes], leaves: Sequence[bytes]
) -> list[bytes]:
    """PROOF(size1, D[0:n]) from the compact range of D[0:size1] and the leaves D[size1:n] alone.

    Every subtree the proof names lies wholly before size1 or wholly after it; those before are
    roots of the compact range (RFC 9162's recursion only ever takes a left part of the old tree
    when that part is the largest power of two within it)."""
    offsets, lo = {}, 0
    for width in _widths(size1, range1):
        offsets[(lo, lo + width)] = len(offsets)
        lo += width

    def subtree(lo: int, hi: int) -> bytes:
        if hi <= size1:
            return range1[offsets[(lo, hi)]]
        assert lo >= size1, "a consistency proof never names a subtree across size1"
        return root(leaves[lo - size1 : hi - size1])

    return _consistency(size1, size1 + len(leaves), subtree)


def _consistency(size1: int, n: int, subtree: Callable[[int, int], bytes]) -> list[bytes]:
    """RFC 9162's SUBPROOF, with `subtree(lo, hi)` giving MTH(D[lo:hi])."""
    if size1 in (0, n):
        return []
    proof: list[bytes] = []
    lo, hi, m, whole = 0, n, size1, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree(lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        proof.append(subtree(lo, hi))
    return proof[::-1]


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that `proof` leads to from `leaf` at `index` (RFC 9162 §2.1.3.2)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    if len(leaf) != HASH_SIZE or any(len(p) != HASH_SIZE for p in proof):
        raise ValueError("hashes are 32 bytes")
    fn, sn, value = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("the proof is too long")
        if fn & 1 or fn == sn:
            value = node_hash(p, value)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            value = node_hash(value, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ValueError("the proof is too short")
    return value


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    try:
        return root_from_inclusion(index, size, leaf, proof) == expected_root
    except ValueError:
        return False


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether the tree (size2, root2) extends (size1, root1) (RFC 9162 §2.1.4.2)."""
    if size1 < 0 or size2 < size1:
        return False
    if size1 == size2:
        return not proof and root1 == root2
    if size1 == 0:
        return not proof
    if not proof or any(len(p) != HASH_SIZE for p in proof):
        return False
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # size1 is a perfect subtree: its root starts the path
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first = second = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first, second = node_hash(c, first), node_hash(c, second)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            second = node_hash(second, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and first == root1 and second == root2
