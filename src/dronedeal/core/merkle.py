"""RFC 6962 / RFC 9162 Merkle trees: hashing, appending, proofs and their verification.

Invariants this module keeps:

- A leaf hash is SHA-256(0x00 ‖ data), an interior node SHA-256(0x01 ‖ left ‖ right),
  and the root of the empty tree is SHA-256 of the empty string (RFC 9162 §2.1.1).
- `node(level, index)` names the complete subtree of 2**level leaves that starts at
  leaf index * 2**level. It exists in a tree of size n iff (index + 1) * 2**level <= n
  and, the log being append-only, never changes once it exists. Level 0 holds the leaf
  hashes. Every hash above a complete node is built from complete nodes only.
- The right edge of a tree of size n is one complete subtree per set bit of n, largest
  (leftmost) first; the root folds them from the right. It is all an appender keeps.
- Proofs are produced from a `NodeSource` with O(log n) node reads, never by
  rebuilding a tree; the verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step.

Hashes travel as 32-byte `bytes`; runs of consecutive nodes of one level as one
`bytes` of concatenated hashes, so a million leaves cost no Python object per node
beyond its digest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Protocol

HASH_SIZE = 32
#: Tree sizes stay below 2**63 (signed 64-bit leaf indices), so no path is longer.
MAX_LEVELS = 63
EMPTY_ROOT = sha256(b"").digest()

_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 leaf hash: SHA-256(0x00 ‖ data)."""
    return sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right)."""
    assert len(left) == HASH_SIZE, "node children are 32 bytes"
    assert len(right) == HASH_SIZE, "node children are 32 bytes"
    return sha256(_NODE + left + right).digest()


def leaf_hashes(leaves: Iterable[bytes]) -> list[bytes]:
    """The leaf hash of each input, in order (one tight loop over hashlib)."""
    return [sha256(_LEAF + data).digest() for data in leaves]


def split_hashes(run: bytes) -> list[bytes]:
    """Cut concatenated 32-byte hashes into a list."""
    assert len(run) % HASH_SIZE == 0, "a run of hashes is a multiple of 32 bytes"
    return [run[i : i + HASH_SIZE] for i in range(0, len(run), HASH_SIZE)]


def _largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k, the split point of RFC 9162 §2.1.1 (n >= 2)."""
    assert n >= 2
    return 1 << ((n - 1).bit_length() - 1)


def _fold_right(parts: Sequence[bytes]) -> bytes:
    """Hash complete subtrees, largest (leftmost) first, into the root over all of them:
    RFC 9162 splits off the largest power of two first, so the right end binds first."""
    acc = parts[-1]
    for part in reversed(parts[:-1]):
        acc = sha256(_NODE + part + acc).digest()
    return acc


def _peak_levels(size: int) -> list[int]:
    """The levels of the right edge's complete subtrees, largest first."""
    levels = []
    while size:
        top = size.bit_length() - 1
        levels.append(top)
        size ^= 1 << top
    return levels


class NodeSource(Protocol):
    """Where proofs read complete-subtree hashes from (memory, a database's tiles)."""

    def node(self, level: int, index: int) -> bytes:
        """The hash of the complete subtree of 2**level leaves from leaf index*2**level."""
        ...


@dataclass(frozen=True, slots=True)
class RightEdge:
    """The complete subtrees along the right edge of a tree of `size` leaves."""

    size: int
    peaks: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        assert 0 <= self.size < 1 << MAX_LEVELS, "tree size out of range"
        assert len(self.peaks) == self.size.bit_count(), "one peak per set bit of the size"
        assert all(len(p) == HASH_SIZE for p in self.peaks), "peaks are 32-byte hashes"

    @classmethod
    def from_source(cls, source: NodeSource, size: int) -> RightEdge:
        """Read the right edge of the first `size` leaves from stored nodes."""
        return cls(size, tuple(source.node(level, (size >> level) - 1)
                               for level in _peak_levels(size)))

    def root(self) -> bytes:
        """MTH of the tree: the peaks folded from the right."""
        return _fold_right(self.peaks) if self.peaks else EMPTY_ROOT


@dataclass(frozen=True, slots=True)
class NodeRun:
    """Consecutive complete nodes of one level: indices first_index, first_index+1, …"""

    level: int
    first_index: int
    hashes: bytes

    @property
    def count(self) -> int:
        return len(self.hashes) // HASH_SIZE


@dataclass(frozen=True, slots=True)
class Extension:
    """What appending a batch did: the new right edge and every node it created."""

    edge: RightEdge
    #: level 0 (the new leaf hashes) first; one run per level that gained nodes
    runs: tuple[NodeRun, ...]


def extend(edge: RightEdge, new_leaf_hashes: bytes) -> Extension:
    """Append leaves (their concatenated hashes) to a tree known by its right edge.

    Returns the new right edge and, per level, the run of complete nodes the batch
    creates; nothing existing changes, so storage only ever adds these nodes.
    """
    assert len(new_leaf_hashes) % HASH_SIZE == 0, "leaf hashes are 32 bytes each"
    old_peaks = dict(zip(_peak_levels(edge.size), edge.peaks, strict=True))
    new_size = edge.size + len(new_leaf_hashes) // HASH_SIZE
    assert new_size < 1 << MAX_LEVELS, "tree size out of range"
    new_peaks: dict[int, bytes] = {}
    runs: list[NodeRun] = []
    level, first, current = 0, edge.size, new_leaf_hashes
    while current:
        assert level <= MAX_LEVELS, "a tree has at most 63 levels"
        runs.append(NodeRun(level, first, current))
        view = memoryview(current)
        parents: list[bytes] = []
        start = 0
        if first & 1:
            # the old right-edge node at this level is the left sibling of the first new one
            parents.append(sha256(_NODE + old_peaks[level] + view[:HASH_SIZE]).digest())
            start = HASH_SIZE
        stop = start + (len(current) - start) // (2 * HASH_SIZE) * (2 * HASH_SIZE)
        parents += [sha256(_NODE + view[i : i + 2 * HASH_SIZE]).digest()
                    for i in range(start, stop, 2 * HASH_SIZE)]
        if stop < len(current):
            new_peaks[level] = bytes(view[stop:])
        level, first, current = level + 1, first >> 1, b"".join(parents)
    # levels the batch did not reach keep their old right-edge nodes
    for old_level, peak in old_peaks.items():
        if old_level >= level:
            new_peaks[old_level] = peak
    peaks = tuple(new_peaks[lv] for lv in _peak_levels(new_size))
    assert len(peaks) == len(new_peaks), "the new right edge matches the new size"
    return Extension(RightEdge(new_size, peaks), tuple(runs))


def merkle_root(hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (RFC 9162 §2.1.1)."""
    return extend(RightEdge(0), b"".join(hashes)).edge.root()


def subtree_root(source: NodeSource, start: int, end: int) -> bytes:
    """MTH of leaves [start, end) where start is aligned to the smallest power of two
    >= end - start, as every subtree of RFC 9162's recursion is: the complete subtrees
    of end - start, largest first, folded from the right (at most log n reads)."""
    width = end - start
    assert width > 0, "a subtree holds at least one leaf"
    assert start >= 0, "a subtree starts inside the tree"
    assert start % (1 << (width - 1).bit_length()) == 0, "subtree start is aligned"
    if width & (width - 1) == 0:  # one complete subtree: one read
        level = width.bit_length() - 1
        return source.node(level, start >> level)
    parts = []
    position = start
    for level in _peak_levels(width):
        parts.append(source.node(level, position >> level))
        position += 1 << level
    return _fold_right(parts)


def tree_root(source: NodeSource, size: int) -> bytes:
    """MTH of the first `size` leaves."""
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    return subtree_root(source, 0, size) if size else EMPTY_ROOT


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1, leaf-side first.

    Walked bottom-up: at each level the sibling of the node holding the leaf is a
    complete node, or (once at most, on the right edge) the root of the incomplete
    subtree up to `size`, or absent where RFC 9162's split promotes the node unchanged.
    """
    return inclusion_proofs(source, [index], size)[0]


def inclusion_proofs(source: NodeSource, indices: Sequence[int], size: int
                     ) -> list[list[bytes]]:
    """`inclusion_proof` of each leaf of `indices` in the tree of `size`; the roots of
    incomplete subtrees on the right edge, shared by many paths, are computed once."""
    right_edge: dict[int, bytes] = {}  # first leaf of an incomplete subtree -> its root
    height = (size - 1).bit_length() if size > 0 else 0  # levels below the root
    complete = [size >> level for level in range(height)]  # complete nodes per level
    node = source.node
    paths = []
    for index in indices:
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
        path: list[bytes] = []
        for level in range(height):
            sibling = (index >> level) ^ 1
            if sibling < complete[level]:
                path.append(node(level, sibling))
            elif sibling << level < size:
                first = sibling << level
                root = right_edge.get(first)
                if root is None:
                    root = right_edge[first] = subtree_root(source, first, size)
                path.append(root)
        paths.append(path)
    return paths


def consistency_proof(source: NodeSource, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 §2.1.4.1; empty when there is nothing to
    prove (old_size 0 or old_size == new_size)."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    low, high, m, whole = 0, new_size, old_size, True
    while True:
        if m == high - low:
            # SUBPROOF(m, D[m], b): nothing when D[m] is the old tree itself
            if not whole:
                proof.append(subtree_root(source, low, high))
            break
        k = _largest_power_of_two_below(high - low)
        if m <= k:
            proof.append(subtree_root(source, low + k, high))
            high = low + k
        else:
            proof.append(subtree_root(source, low, low + k))
            low, m, whole = low + k, m - k, False
    proof.reverse()
    return proof


def _all_hashes(items: Iterable[bytes]) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in items)


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: does `path` prove leaf hash `leaf` at `index` under `root`?"""
    if not _all_hashes([leaf, root, *path]) or len(path) > MAX_LEVELS:
        return False
    if index >= size or index < 0:  # step 1
        return False
    fn, sn = index, size - 1  # step 2
    r = leaf  # step 3
    for p in path:  # step 4
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha256(_NODE + p + r).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha256(_NODE + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root  # step 5


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does `proof` show the tree of `old_size` with `old_root` is a
    prefix of the tree of `new_size` with `new_root`?

    Outside the RFC's 0 < old_size < new_size: equal sizes need equal roots and an
    empty proof, and the empty tree (root SHA-256("")) is a prefix of every tree.
    """
    if not _all_hashes([old_root, new_root, *proof]) or len(proof) > 2 * MAX_LEVELS:
        return False
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:  # step 1
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = sha256(_NODE + c + fr).digest()
            sr = sha256(_NODE + c + sr).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = sha256(_NODE + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0  # step 7


class MemoryTree:
    """A whole tree held in memory, level by level: a `NodeSource` for tests, tools and
    small logs, built by the same `extend` the database path uses."""

    def __init__(self, hashes: Sequence[bytes] = ()) -> None:
        self._levels: list[bytearray] = []
        self.edge = RightEdge(0)
        if hashes:
            self.append(b"".join(hashes))

    @property
    def size(self) -> int:
        return self.edge.size

    def append(self, new_leaf_hashes: bytes) -> Extension:
        extension = extend(self.edge, new_leaf_hashes)
        for run in extension.runs:
            if run.level == len(self._levels):
                self._levels.append(bytearray())
            stored = self._levels[run.level]
            assert len(stored) == run.first_index * HASH_SIZE, "runs continue their level"
            stored += run.hashes
        self.edge = extension.edge
        return extension

    def node(self, level: int, index: int) -> bytes:
        if level >= len(self._levels) or not 0 <= index < len(self._levels[level]) // HASH_SIZE:
            raise KeyError(f"no complete node at level {level}, index {index}")
        return bytes(self._levels[level][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def root(self, size: int | None = None) -> bytes:
        return self.edge.root() if size is None else tree_root(self, size)
