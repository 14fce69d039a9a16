"""RFC 6962/9162 Merkle trees: the published vectors, and random logs checked against an
independent implementation written here from the RFC's text."""

from __future__ import annotations

import itertools
import json
import os
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dronedeal.core import merkle

# -- the published vectors -----------------------------------------------------------


def _vectors_path() -> Path:
    name = Path("data") / "rfc6962-vectors.json"
    candidates = [Path(__file__).resolve().parents[3] / "shared" / name]
    if os.environ.get("DRONEDEAL_SHARED"):
        candidates.append(Path(os.environ["DRONEDEAL_SHARED"]) / name)
    for path in candidates:
        if path.exists():
            return path
    raise FileNotFoundError(f"rfc6962-vectors.json not found in {candidates}")


VECTORS: dict[str, Any] = json.loads(_vectors_path().read_text())
LEAVES = [bytes.fromhex(h) for h in VECTORS["leaves_hex"]]
ROOTS = {int(size): bytes.fromhex(root) for size, root in VECTORS["roots"].items()}


# -- an independent implementation, from RFC 9162 §2.1 ------------------------------


def HASH(data: bytes) -> bytes:  # the RFC's name
    return sha256(data).digest()


def rfc_mth(d: list[bytes]) -> bytes:
    """§2.1.1 MTH(D[n]), by the recursive definition."""
    n = len(d)
    if n == 0:
        return HASH(b"")
    if n == 1:
        return HASH(b"\x00" + d[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return HASH(b"\x01" + rfc_mth(d[:k]) + rfc_mth(d[k:]))


def rfc_path(m: int, d: list[bytes]) -> list[bytes]:
    """§2.1.3.1 PATH(m, D[n])."""
    n = len(d)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*rfc_path(m, d[:k]), rfc_mth(d[k:])]
    return [*rfc_path(m - k, d[k:]), rfc_mth(d[:k])]


def rfc_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """§2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(d)
    if m == n:
        return [] if b else [rfc_mth(d)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*rfc_subproof(m, d[:k], b), rfc_mth(d[k:])]
    return [*rfc_subproof(m - k, d[k:], False), rfc_mth(d[:k])]


def rfc_verify_inclusion(leaf_index: int, tree_size: int, hash_: bytes,
                         inclusion_path: list[bytes], root_hash: bytes) -> bool:
    """§2.1.3.2, transcribed step by step."""
    # 1. leaf_index >= tree_size fails
    if leaf_index >= tree_size:
        return False
    # 2. fn = leaf_index, sn = tree_size - 1
    fn, sn = leaf_index, tree_size - 1
    # 3. r = hash
    r = hash_
    # 4. for each p in the inclusion path
    for p in inclusion_path:
        # a. sn == 0: stop and fail
        if sn == 0:
            return False
        # b. LSB(fn) set, or fn == sn
        if fn % 2 == 1 or fn == sn:
            r = HASH(b"\x01" + p + r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn // 2, sn // 2
        else:
            r = HASH(b"\x01" + r + p)
        # c. right-shift both once
        fn, sn = fn // 2, sn // 2
    # 5. sn == 0 and r == root_hash
    return sn == 0 and r == root_hash


def rfc_verify_consistency(first: int, second: int, first_hash: bytes, second_hash: bytes,
                           consistency_path: list[bytes]) -> bool:
    """§2.1.4.2 (for 0 < first < second), transcribed step by step."""
    assert 0 < first < second
    # 1. an empty path fails
    if not consistency_path:
        return False
    path = list(consistency_path)
    # 2. first an exact power of 2: prepend first_hash
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    # 3. fn = first - 1, sn = second - 1
    fn, sn = first - 1, second - 1
    # 4. while LSB(fn) is set, right-shift both
    while fn % 2 == 1:
        fn, sn = fn // 2, sn // 2
    # 5. fr = sr = path[0]
    fr = sr = path[0]
    # 6. for each subsequent c
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = HASH(b"\x01" + c + fr)
            sr = HASH(b"\x01" + c + sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn // 2, sn // 2
        else:
            sr = HASH(b"\x01" + sr + c)
        fn, sn = fn // 2, sn // 2
    # 7. fr == first_hash, sr == second_hash, sn == 0
    return fr == first_hash and sr == second_hash and sn == 0


def flip(data: bytes, bit: int) -> bytes:
    bit %= 8 * len(data)
    return data[: bit // 8] + bytes([data[bit // 8] ^ (1 << bit % 8)]) + data[bit // 8 + 1 :]


class CountingSource:
    """A NodeSource that counts its reads."""

    def __init__(self, tree: merkle.MemoryTree) -> None:
        self.tree = tree
        self.reads = 0

    def node(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.tree.node(level, index)


# -- vectors ------------------------------------------------------------------------


def test_hashing_primitives() -> None:
    assert merkle.EMPTY_ROOT.hex() == \
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.leaf_hash(b"") == sha256(b"\x00").digest()
    left, right = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    assert merkle.node_hash(left, right) == sha256(b"\x01" + left + right).digest()


@pytest.mark.parametrize("size", sorted(ROOTS))
def test_roots_equal_the_vectors(size: int) -> None:
    hashes = merkle.leaf_hashes(LEAVES[:size])
    assert merkle.merkle_root(hashes) == ROOTS[size]
    assert merkle.MemoryTree(hashes).root() == ROOTS[size]
    assert rfc_mth(LEAVES[:size]) == ROOTS[size]
    edge = merkle.RightEdge(0)
    for digest in hashes:  # one leaf at a time
        edge = merkle.extend(edge, digest).edge
    assert edge.root() == ROOTS[size]
    assert merkle.tree_root(merkle.MemoryTree(merkle.leaf_hashes(LEAVES)), size) == ROOTS[size]


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: f"{c['index']}@{c['size']}")
def test_inclusion_proofs_equal_the_vectors(case: dict[str, Any]) -> None:
    tree = merkle.MemoryTree(merkle.leaf_hashes(LEAVES))
    index, size = case["index"], case["size"]
    path = merkle.inclusion_proof(tree, index, size)
    assert [h.hex() for h in path] == case["path"]
    leaf = merkle.leaf_hash(LEAVES[index])
    assert merkle.verify_inclusion(leaf, index, size, path, ROOTS[size])
    assert rfc_verify_inclusion(index, size, leaf, path, ROOTS[size])


@pytest.mark.parametrize("case", VECTORS["consistency"],
                         ids=lambda c: f"{c['size1']}-{c['size2']}")
def test_consistency_proofs_equal_the_vectors(case: dict[str, Any]) -> None:
    tree = merkle.MemoryTree(merkle.leaf_hashes(LEAVES))
    old, new = case["size1"], case["size2"]
    proof = merkle.consistency_proof(tree, old, new)
    assert [h.hex() for h in proof] == case["proof"]
    assert merkle.verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)
    if old < new:
        assert rfc_verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


# -- random logs --------------------------------------------------------------------

leaf_lists = st.lists(st.binary(max_size=12), min_size=1, max_size=70)


@st.composite
def log_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    leaves = draw(leaf_lists)
    return leaves, draw(st.integers(0, len(leaves) - 1))


@st.composite
def log_and_sizes(draw: st.DrawFn) -> tuple[list[bytes], int]:
    leaves = draw(leaf_lists)
    return leaves, draw(st.integers(0, len(leaves)))


@given(leaves=leaf_lists, cuts=st.lists(st.integers(0, 70), max_size=6))
def test_appending_in_batches_creates_every_node_once(leaves: list[bytes],
                                                      cuts: list[int]) -> None:
    hashes = merkle.leaf_hashes(leaves)
    whole = merkle.MemoryTree(hashes)
    edge = merkle.RightEdge(0)
    created: dict[tuple[int, int], bytes] = {}
    bounds = sorted({0, len(hashes), *(c for c in cuts if c <= len(hashes))})
    for low, high in itertools.pairwise(bounds):
        extension = merkle.extend(edge, b"".join(hashes[low:high]))
        for run in extension.runs:
            for offset, node in enumerate(merkle.split_hashes(run.hashes)):
                key = (run.level, run.first_index + offset)
                assert key not in created, "a node is created once and never changes"
                created[key] = node
        edge = extension.edge
        assert edge.root() == rfc_mth(leaves[:high])
    complete = {(level, index) for level in range(len(hashes).bit_length())
                for index in range(len(hashes) >> level)}
    assert set(created) == complete
    for (level, index), node in created.items():
        assert node == whole.node(level, index)
        assert node == rfc_mth(leaves[index << level : (index + 1) << level])


@given(log_and_index())
def test_inclusion_proofs_verify_independently(case: tuple[list[bytes], int]) -> None:
    leaves, index = case
    size = len(leaves)
    source = CountingSource(merkle.MemoryTree(merkle.leaf_hashes(leaves)))
    path = merkle.inclusion_proof(source, index, size)
    assert source.reads <= 2 * size.bit_length() + 1, "O(log n) node reads"
    assert path == rfc_path(index, leaves)
    root, leaf = rfc_mth(leaves), merkle.leaf_hash(leaves[index])
    assert rfc_verify_inclusion(index, size, leaf, path, root)
    assert merkle.verify_inclusion(leaf, index, size, path, root)


@given(log_and_sizes(), st.integers(0, 70))
def test_consistency_proofs_verify_independently(case: tuple[list[bytes], int],
                                                 older: int) -> None:
    leaves, new = case
    old = min(older, new)
    source = CountingSource(merkle.MemoryTree(merkle.leaf_hashes(leaves)))
    proof = merkle.consistency_proof(source, old, new)
    assert source.reads <= 3 * new.bit_length() + 1, "O(log n) node reads"
    old_root, new_root = rfc_mth(leaves[:old]), rfc_mth(leaves[:new])
    if 0 < old < new:
        assert proof == rfc_subproof(old, leaves[:new], True)
        assert rfc_verify_consistency(old, new, old_root, new_root, proof)
    else:
        assert proof == []
    assert merkle.verify_consistency(old, new, old_root, new_root, proof)


@settings(max_examples=60)
@given(log_and_index(), st.integers(0, 2**16), st.sampled_from(["leaf", "path", "root"]))
def test_a_flipped_bit_fails_inclusion(case: tuple[list[bytes], int], bit: int,
                                       where: str) -> None:
    leaves, index = case
    size = len(leaves)
    path = merkle.inclusion_proof(merkle.MemoryTree(merkle.leaf_hashes(leaves)), index, size)
    root, data = rfc_mth(leaves), leaves[index]
    if where == "leaf":
        data = flip(data, bit) if data else b"\x01"
    elif where == "path":
        if not path:
            return
        at = bit % len(path)
        path = [*path[:at], flip(path[at], bit // len(path)), *path[at + 1 :]]
    else:
        root = flip(root, bit)
    leaf = merkle.leaf_hash(data)
    assert not merkle.verify_inclusion(leaf, index, size, path, root)
    assert not rfc_verify_inclusion(index, size, leaf, path, root)


@settings(max_examples=60)
@given(log_and_sizes(), st.integers(0, 70), st.integers(0, 2**16),
       st.sampled_from(["proof", "old_root", "new_root"]))
def test_a_flipped_bit_fails_consistency(case: tuple[list[bytes], int], older: int, bit: int,
                                         where: str) -> None:
    leaves, new = case
    old = min(older, new)
    proof = merkle.consistency_proof(merkle.MemoryTree(merkle.leaf_hashes(leaves)), old, new)
    old_root, new_root = rfc_mth(leaves[:old]), rfc_mth(leaves[:new])
    if where == "proof":
        if not proof:
            return
        at = bit % len(proof)
        proof = [*proof[:at], flip(proof[at], bit // len(proof)), *proof[at + 1 :]]
    elif where == "old_root":
        old_root = flip(old_root, bit)
    else:
        # the empty tree is a prefix of every tree: nothing ties a new root to it
        assume(old > 0)
        new_root = flip(new_root, bit)
    assert not merkle.verify_consistency(old, new, old_root, new_root, proof)
    if 0 < old < new:
        assert not rfc_verify_consistency(old, new, old_root, new_root, proof)


def test_verifiers_refuse_wrong_shapes() -> None:
    hashes = merkle.leaf_hashes(LEAVES)
    tree = merkle.MemoryTree(hashes)
    path = merkle.inclusion_proof(tree, 5, 8)
    assert merkle.verify_inclusion(hashes[5], 5, 8, path, ROOTS[8])
    assert not merkle.verify_inclusion(hashes[5], 4, 8, path, ROOTS[8])  # wrong index
    # (sizes 7 and 8 give leaf 5 paths of one shape: the signed checkpoint binds the size)
    assert not merkle.verify_inclusion(hashes[5], 5, 6, path, ROOTS[8])  # wrong size
    assert not merkle.verify_inclusion(hashes[5], 8, 8, path, ROOTS[8])  # index >= size
    assert not merkle.verify_inclusion(hashes[5], 5, 8, path[:-1], ROOTS[8])  # too short
    assert not merkle.verify_inclusion(hashes[5], 5, 8, [*path, path[0]], ROOTS[8])  # too long
    assert not merkle.verify_inclusion(hashes[5], 5, 8, [p[:31] for p in path], ROOTS[8])
    proof = merkle.consistency_proof(tree, 3, 7)
    assert merkle.verify_consistency(3, 7, ROOTS[3], ROOTS[7], proof)
    assert not merkle.verify_consistency(3, 7, ROOTS[3], ROOTS[7], [])
    assert not merkle.verify_consistency(3, 7, ROOTS[3], ROOTS[7], proof[:-1])
    assert not merkle.verify_consistency(3, 7, ROOTS[3], ROOTS[7], [*proof, proof[0]])
    assert not merkle.verify_consistency(4, 7, ROOTS[3], ROOTS[7], proof)
    assert not merkle.verify_consistency(7, 3, ROOTS[7], ROOTS[3], proof)
    assert not merkle.verify_consistency(7, 7, ROOTS[7], ROOTS[7], proof)  # same size: empty
    assert merkle.verify_consistency(0, 7, merkle.EMPTY_ROOT, ROOTS[7], [])
    assert not merkle.verify_consistency(0, 7, ROOTS[1], ROOTS[7], [])


def test_proof_requests_outside_the_tree_are_refused() -> None:
    tree = merkle.MemoryTree(merkle.leaf_hashes(LEAVES))
    with pytest.raises(ValueError, match="not in a tree"):
        merkle.inclusion_proof(tree, 8, 8)
    with pytest.raises(ValueError, match="not in a tree"):
        merkle.inclusion_proof(tree, -1, 8)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_proof(tree, 5, 4)
    with pytest.raises(KeyError):
        merkle.tree_root(tree, 9)


def test_a_big_tree_is_read_through_its_right_edge() -> None:
    """The right edge of a big tree is one node per set bit of its size, and a proof
    reads O(log n) nodes."""
    size = 100_003
    tree = merkle.MemoryTree()
    tree.append(b"".join(merkle.leaf_hashes(i.to_bytes(4, "big") for i in range(size))))
    edge = merkle.RightEdge.from_source(tree, size)
    assert len(edge.peaks) == bin(size).count("1")
    assert edge.root() == tree.root() == merkle.tree_root(tree, size)
    source = CountingSource(tree)
    path = merkle.inclusion_proof(source, 12_345, size)
    assert source.reads <= 2 * size.bit_length() + 1
    leaf = merkle.leaf_hash((12_345).to_bytes(4, "big"))
    assert rfc_verify_inclusion(12_345, size, leaf, path, tree.root())
