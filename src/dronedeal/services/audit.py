"""The verifiable log's use cases: append, checkpoints, proofs, entries, verify.

Every function takes a `Session` and leaves the transaction to its caller: services
never commit. Invariants (SPEC §3.3, §6):

- `append_leaves` adds a batch as consecutive leaves, stores every Merkle node they
  complete (level 0 of the tiles holds the leaf hashes), and signs ONE checkpoint for
  the new size, all in the caller's transaction; appenders are serialized by
  `store.log.lock_for_append`, so concurrent writers queue and never interleave indices.
- Proofs are RFC 9162 proofs read from stored nodes (O(log n) tiles); their JSON shape
  is SPEC §6's, hashes in standard base64. A proof's root is the signed checkpoint's
  root when one exists at that size.
- `verify` trusts nothing stored but the public key: it recomputes every leaf hash from
  the leaf text (a derived leaf's rendered from its row) and the root at every
  checkpoint size in one streaming pass, checks each signature, compares every stored
  node, and names the first bad leaf (or checkpoint, or node).
"""

from __future__ import annotations

import binascii
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from itertools import islice
from typing import Any, Final

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dronedeal.core import merkle, note
from dronedeal.services.keys import ed25519_verify
from dronedeal.store import log
from dronedeal.store.db import make_engine, read_only

#: leaves read, hashed and compared per step of `verify` (whole tiles: one read each)
VERIFY_CHUNK: Final = 128 * log.TILE_WIDTH
#: leaves per query of `entries`
ENTRIES_BATCH: Final = 4096
_MAX_SIZE: Final = (1 << 63) - 1
#: stands in for the hash of a derived leaf whose row is missing (reported anyway)
_NO_ROW: Final = bytes(merkle.HASH_SIZE)

class AuditError(Exception):
    """A request the log cannot answer as asked; carries its HTTP status."""

    http_status = 400


class OutOfRangeError(AuditError):
    """A leaf index or tree size outside the log."""

    http_status = 400


class NoCheckpointError(AuditError):
    """The log has no checkpoint (yet, or at the size asked)."""

    http_status = 404


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Leaves first_index … tree_size-1 were appended; `checkpoint` signs the new size."""

    first_index: int
    tree_size: int
    root: bytes
    #: the signed note, None when the batch was empty (nothing new to sign)
    checkpoint: str | None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What `verify` found; `problem` is None when everything checked out."""

    tree_size: int
    leaves_checked: int
    checkpoints_checked: int
    #: root recomputed from the leaf texts (None if a leaf was bad)
    root: bytes | None
    first_bad_leaf: int | None = None
    #: tree size of the first checkpoint that failed
    bad_checkpoint: int | None = None
    #: (level, index) of the first stored Merkle node that differs from the recomputed one
    bad_node: tuple[int, int] | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _b64(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).decode("ascii")


# -- writing -----------------------------------------------------------------------


def leaf_hashes(leaves: Sequence[tuple[str, str]]) -> bytes:
    """The RFC 6962 hashes of `(kind, canonical JSON)` leaves, concatenated: what
    `append_leaves` hashes, for a caller that has them hashed while the database is busy
    with its rows (`hashes=`)."""
    return b"".join(merkle.leaf_hashes([leaf.encode() for _, leaf in leaves]))


def append_leaves(session: Session, leaves: Sequence[tuple[str, str]],
                  signer: note.NoteSigner, *, hashes: bytes | None = None) -> AppendResult:
    """Append `(kind, canonical JSON)` leaves and sign one checkpoint of the new size.
    `hashes`, when given, are `leaf_hashes(leaves)`."""
    _check_kinds(leaves)
    if not leaves:
        size = log.tree_size(session)
        return AppendResult(size, size, _root_at(session, size), None)
    if hashes is None:
        hashes = leaf_hashes(leaves)
    assert len(hashes) == len(leaves) * merkle.HASH_SIZE, "one hash per leaf"
    return _append(session, hashes, signer,
                   lambda size: log.insert_leaves(session, size, leaves))


def append_derived(session: Session, kind: str, hashes: bytes, signer: note.NoteSigner, *,
                   prepared: Prepared | None = None) -> AppendResult:
    """Append leaves of a derived `kind` (their rows, written by the caller, hold the
    text), given their concatenated RFC 6962 hashes, and sign one checkpoint: what
    `append_leaves` does with such leaves, without their texts. `prepared`: the nodes
    of these leaves computed elsewhere in advance, used when they extend this log."""
    assert len(hashes) % merkle.HASH_SIZE == 0, "leaf hashes are 32 bytes each"
    count = len(hashes) // merkle.HASH_SIZE
    if not count:
        size = log.tree_size(session)
        return AppendResult(size, size, _root_at(session, size), None)
    return _append(session, hashes, signer,
                   lambda size: log.insert_derived(session, size, kind, count),
                   prepared=prepared)


def right_edge(session: Session) -> merkle.RightEdge:
    """The log's right edge now: what an appender extends (see `Prepared`)."""
    size = log.tree_size(session)
    return log.right_edge(size, log.edge_tiles(session, size))


@dataclass(frozen=True, slots=True)
class Prepared:
    """`merkle.extend(edge, hashes)`, computed ahead (by another process): an append of
    exactly `hashes` to a log whose right edge is `edge` stores its nodes as they are.
    Anything else, and the append computes its nodes itself."""

    edge: merkle.RightEdge
    extension: merkle.Extension

    def fits(self, edge: merkle.RightEdge, hashes: bytes) -> bool:
        leaves = self.extension.runs[0]
        return (self.edge == edge and leaves.level == 0 and leaves.first_index == edge.size
                and leaves.hashes == hashes)


def _append(session: Session, hashes: bytes, signer: note.NoteSigner,
            insert_leaves: Callable[[int], None], *, prepared: Prepared | None = None
            ) -> AppendResult:
    """Extend the tree by leaves of `hashes`, which `insert_leaves(first_index)` stores;
    write the nodes and sign the new size."""
    log.lock_for_append(session)
    size = log.tree_size(session)
    growth = grow(size, log.edge_tiles(session, size), hashes, signer, prepared=prepared)
    return write_growth(session, growth, insert_leaves)


@dataclass(frozen=True, slots=True)
class Growth:
    """An append worked out but not yet written (`grow`, then `write_growth`)."""

    size: int
    tiles: dict[tuple[int, int], bytes]
    runs: Sequence[merkle.NodeRun]
    tree_size: int
    root: bytes
    checkpoint: str


def grow(size: int, tiles: dict[tuple[int, int], bytes], hashes: bytes,
         signer: note.NoteSigner, *, prepared: Prepared | None = None) -> Growth:
    """The new nodes, root and signed checkpoint of appending leaves of `hashes` to a log
    of `size` leaves whose edge tiles are `tiles`: no database work, so a caller can do
    it while the database takes in other rows of the same batch. `prepared` nodes are
    taken when they fit."""
    assert hashes, "an append adds leaves"
    assert len(hashes) % merkle.HASH_SIZE == 0, "leaf hashes are 32 bytes each"
    edge = log.right_edge(size, tiles)
    if prepared is not None and prepared.fits(edge, hashes):
        extension = prepared.extension
    else:
        extension = merkle.extend(edge, hashes)
    new_size = extension.edge.size
    assert new_size == size + len(hashes) // merkle.HASH_SIZE
    root = extension.edge.root()
    signed = note.sign_note(note.Checkpoint(signer.name, new_size, root).body(), signer)
    return Growth(size, tiles, extension.runs, new_size, root, signed)


def write_growth(session: Session, growth: Growth, insert_leaves: Callable[[int], None]
                 ) -> AppendResult:
    """Write what `grow` worked out, the leaves by `insert_leaves(first_index)`; the
    append lock must be held since `growth.size` was read (`log.lock_for_append`)."""
    insert_leaves(growth.size)
    log.write_nodes(session, growth.size, growth.runs, growth.tiles)
    log.insert_checkpoint(session, tree_size=growth.tree_size, root=growth.root,
                          note=growth.checkpoint, created_at=datetime.now(UTC))
    return AppendResult(growth.size, growth.tree_size, growth.root, growth.checkpoint)


def _check_kinds(leaves: Sequence[tuple[str, str]]) -> None:
    for kind in {kind for kind, _ in leaves}:
        if not isinstance(kind, str) or not 0 < len(kind) <= log.KIND_LENGTH:
            raise ValueError(f"leaf kind {kind!r} must be 1 to {log.KIND_LENGTH} characters")


# -- reading -----------------------------------------------------------------------


def _source(session: Session) -> log.TileSource:
    return log.TileSource(session, log.tile_cache(session))


def _root_at(session: Session, size: int) -> bytes:
    return merkle.tree_root(_source(session), size)


def _size_and_root(session: Session, size: int | None) -> tuple[int, bytes]:
    """The tree size asked for (None: the latest checkpoint's) and its root: the signed
    one where a checkpoint exists at that size, else recomputed from stored nodes."""
    if size is None:
        latest = log.latest_checkpoint(session)
        if latest is None:
            raise NoCheckpointError("the log is empty: no checkpoint has been signed yet")
        return latest.tree_size, latest.root
    if size == 0:
        return 0, merkle.EMPTY_ROOT
    stored = log.checkpoint_at(session, size)
    if stored is not None:
        return stored.tree_size, stored.root
    current = log.tree_size(session)
    if not 0 < size <= current:
        raise OutOfRangeError(f"tree size {size} is outside the log of {current} leaves")
    return size, _root_at(session, size)


def tree_size_signed(session: Session) -> int:
    """The size of the latest signed checkpoint (what proofs default to)."""
    return _size_and_root(session, None)[0]


def checkpoint(session: Session, size: int | None = None) -> str:
    """The signed checkpoint note: the latest, or the one signed at `size`."""
    found = log.latest_checkpoint(session) if size is None else log.checkpoint_at(session, size)
    if found is None:
        if size is None:
            raise NoCheckpointError("the log is empty: no checkpoint has been signed yet")
        raise NoCheckpointError(f"no checkpoint was signed at tree size {size}")
    return found.note


def inclusion_proof(session: Session, leaf: int, size: int | None = None) -> dict[str, Any]:
    """RFC 9162 inclusion proof of leaf `leaf` in the tree of `size` (None: the latest
    checkpoint): `{leaf_index, tree_size, leaf, leaf_hash, root_hash, path}`."""
    found = log.leaf_and_checkpoint(session, leaf, size) if leaf >= 0 else None
    if found is not None:
        text, tree_size, root = found
    else:
        tree_size, root = _size_and_root(session, size)
        if not 0 <= leaf < tree_size:
            raise OutOfRangeError(f"leaf {leaf} is not in the tree of {tree_size} leaves")
        stored = log.leaf_text(session, leaf)
        assert stored is not None, "every index below the tree size holds a leaf"
        text = stored
    path = merkle.inclusion_proof(_source(session), leaf, tree_size)
    return {"leaf_index": leaf, "tree_size": tree_size, "leaf": text,
            "leaf_hash": _b64(merkle.leaf_hash(text.encode())), "root_hash": _b64(root),
            "path": [_b64(h) for h in path]}


def inclusion_proofs(session: Session, leaves: Sequence[int], size: int | None = None
                     ) -> list[dict[str, Any]]:
    """`inclusion_proof` of each leaf of `leaves`, all in the tree of `size` (None: the
    latest checkpoint), in a few queries for the lot: an auditor's sample of records."""
    tree_size, root = _size_and_root(session, size)
    outside = [leaf for leaf in leaves if not 0 <= leaf < tree_size]
    if outside:
        raise OutOfRangeError(f"leaf {outside[0]} is not in the tree of {tree_size} leaves")
    texts = log.leaf_texts(session, leaves)
    assert len(texts) == len(set(leaves)), "every index below the tree size holds a leaf"
    paths = merkle.inclusion_proofs(_source(session), leaves, tree_size)
    root_hash = _b64(root)
    return [{"leaf_index": leaf, "tree_size": tree_size, "leaf": texts[leaf],
             "leaf_hash": _b64(merkle.leaf_hash(texts[leaf].encode())), "root_hash": root_hash,
             "path": [_b64(h) for h in path]}
            for leaf, path in zip(leaves, paths, strict=True)]


def consistency_proof(session: Session, from_size: int, to_size: int) -> dict[str, Any]:
    """RFC 9162 consistency proof that the tree of `from_size` is a prefix of the tree
    of `to_size`: `{from_size, to_size, from_root, to_root, proof}`."""
    if not 0 <= from_size <= to_size:
        raise OutOfRangeError(f"a consistency proof goes from a smaller size to a larger "
                              f"one, not from {from_size} to {to_size}")
    to_size, to_root = _size_and_root(session, to_size)
    from_size, from_root = _size_and_root(session, from_size)
    proof = merkle.consistency_proof(_source(session), from_size, to_size)
    return {"from_size": from_size, "to_size": to_size, "from_root": _b64(from_root),
            "to_root": _b64(to_root), "proof": [_b64(h) for h in proof]}


def entries(session: Session, start: int = 0, stop: int | None = None
            ) -> Iterator[dict[str, Any]]:
    """Leaves start … stop-1 (stop: the tree size) as `{index, leaf}`, streamed."""
    size = log.tree_size(session)
    stop = size if stop is None else stop
    if not 0 <= start <= stop <= size:
        raise OutOfRangeError(f"entries {start} to {stop} are outside the log of {size} "
                              f"leaves (from is the first index, to stops before its index)")

    def stream() -> Iterator[dict[str, Any]]:
        for batch_start in range(start, stop, ENTRIES_BATCH):
            batch_stop = min(stop, batch_start + ENTRIES_BATCH)
            rows = log.leaves_between(session, batch_start, batch_stop)
            assert len(rows) == batch_stop - batch_start, "leaves have no gaps"
            for index, _kind, leaf in rows:
                yield {"index": index, "leaf": leaf}

    return stream()


# -- verifying ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeafCheck:
    """What the leaves of one range of the log say by themselves, before the tree."""

    #: the leaf hashes from the range's first leaf on, concatenated (a gap cuts them
    #: short; a leaf without text counts as 32 zero bytes and is in `bad`)
    hashes: bytes
    #: (leaf index, sentence) of every problem found in the range
    bad: list[tuple[int, str]]


def check_leaves(session: Session, start: int, stop: int) -> LeafCheck:
    """Hash the leaves start <= index < stop from their texts (a derived leaf's rendered
    from its row) and compare the hashes with the level-0 tiles: the part of `verify`
    that touches every leaf, and that ranges can do independently of each other."""
    read = log.read_leaves(session, start, stop, every_kind=True)
    rows = read.rows
    bad: list[tuple[int, str]] = [
        (index, f"leaf {index}: a {derived.table} row names it, but it holds "
                f"{_kind_of(rows, start, index)}")
        for index, derived in read.strays]
    hashes = [_NO_ROW if leaf is None else sha256(b"\x00" + leaf.encode()).digest()
              for _, _, leaf in rows]
    bad.extend((index, f"leaf {index} is held by more than one log_leaf row")
               for index in read.doubles)
    derived = log.derived_kinds()
    bad.extend((index, f"leaf {index} ({kind}): no {derived[kind].table} row holds it"
                if kind in derived else f"leaf {index} ({kind}) has no text")
               for index, kind, leaf in rows if leaf is None)
    if len(rows) != stop - start:  # indices are unique and sorted: a gap shortens the batch
        present = {row[0] for row in rows}
        missing = next(i for i in range(start, stop) if i not in present)
        bad.append((missing, f"leaf {missing} is missing"))
        rows = [row for row in rows if row[0] < missing]
        hashes = hashes[: len(rows)]
    joined = b"".join(hashes)
    bad.extend(_leaf_tiles(session, start, joined, rows))
    return LeafCheck(joined, bad)


def _kind_of(rows: Sequence[tuple[int, str, str | None]], start: int, index: int) -> str:
    position = index - start
    if 0 <= position < len(rows) and rows[position][0] == index:
        kind, text = rows[position][1], rows[position][2]
        return f"a {kind} leaf" + (" stored with its own text" if text is not None
                                    and kind in log.derived_kinds() else "")
    return "no leaf"


def _leaf_tiles(session: Session, start: int, expected: bytes,
                rows: Sequence[tuple[int, str, str | None]]) -> list[tuple[int, str]]:
    """The level-0 tiles must hold exactly the recomputed leaf hashes."""
    if not expected:
        return []
    count = len(expected) // merkle.HASH_SIZE
    first = _first_node_mismatch(session, 0, start, expected)
    if first is None:
        return []
    assert start <= first < start + count
    kind = rows[first - start][1]
    derived = log.derived_kinds().get(kind)
    if derived is not None and rows[first - start][2] is not None:
        return [(first, f"leaf {first} ({kind}): the {derived.table} row that holds it "
                        f"differs from what the log logged (its text no longer hashes "
                        f"to the stored leaf hash)")]
    return [(first, f"leaf {first}: the stored Merkle tile differs from its leaf hash")]


def _first_node_mismatch(session: Session, level: int, first_index: int, expected: bytes
                         ) -> int | None:
    last_index = first_index + len(expected) // merkle.HASH_SIZE - 1
    first_tile, last_tile = first_index // log.TILE_WIDTH, last_index // log.TILE_WIDTH
    tiles = log.tiles_between(session, level, first_tile, last_tile)
    stored = b"".join(tiles.get(t, b"") for t in range(first_tile, last_tile + 1))
    offset = (first_index - first_tile * log.TILE_WIDTH) * merkle.HASH_SIZE
    stored = stored[offset : offset + len(expected)]
    if stored == expected:
        return None
    size = merkle.HASH_SIZE
    return first_index + next(i for i in range(0, len(expected), size)
                              if stored[i : i + size] != expected[i : i + size]) // size


#: the database of this worker process of a parallel `verify` (set by `_start_worker`)
_worker_engine: Engine | None = None


def _start_worker(url: str) -> None:
    global _worker_engine  # one engine per worker process, made once  # noqa: PLW0603
    _worker_engine = read_only(make_engine(url))


def _check_in_worker(span: tuple[int, int]) -> LeafCheck:
    assert _worker_engine is not None, "the pool's initializer opened the database"
    with Session(_worker_engine) as session:
        return check_leaves(session, *span)


def _pool_context() -> multiprocessing.context.BaseContext:
    """`fork`: the workers start at once with everything imported and every leaf kind
    registered, the test suite's own kinds included (a `forkserver`'s workers know only
    what its preload imports, and gave other reports in the suite)."""
    return multiprocessing.get_context("fork")


def _parallel_url(session: Session) -> str | None:
    """The URL other processes can open this session's database by, None when they
    cannot (an in-memory SQLite database, or no `fork` on this platform)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    url = session.get_bind().engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return url.render_as_string(hide_password=False)


class _Failed(Exception):
    def __init__(self, report: VerifyReport) -> None:
        self.report = report


class _Verifier:
    """One streaming pass over the log (see `verify`)."""

    def __init__(self, session: Session, key: note.VerifierKey | bytes) -> None:
        self.session = session
        self.key = key
        self.size = log.tree_size(session)
        self.edge = merkle.RightEdge(0)
        self.checkpoints = 0

    def fail(self, problem: str, *, leaf: int | None = None, checkpoint: int | None = None,
             node: tuple[int, int] | None = None) -> _Failed:
        return _Failed(VerifyReport(
            tree_size=self.size, leaves_checked=self.edge.size,
            checkpoints_checked=self.checkpoints, root=None, first_bad_leaf=leaf,
            bad_checkpoint=checkpoint, bad_node=node, problem=problem))

    def run(self, workers: int, chunk: int) -> VerifyReport:
        spans = [(start, min(self.size, start + chunk)) for start in range(0, self.size, chunk)]
        url = _parallel_url(self.session) if workers > 1 and len(spans) > 1 else None
        if url is None:
            for start, stop in spans:
                self.chunk(start, stop, check_leaves(self.session, start, stop))
        else:
            # the leaves' half of the work, range by range in other processes (in order,
            # while this one builds the tree); leaves never change once appended, so
            # their own transactions read what this one would
            self._in_workers(spans, min(workers, len(spans)), url)
        assert self.edge.size == self.size
        strays = log.rows_beyond(self.session, self.size)
        if strays:
            index, derived = strays[0]
            raise self.fail(f"a {derived.table} row names leaf {index}, beyond the log of "
                            f"{self.size} leaves", leaf=self.size)
        beyond = log.checkpoints_between(self.session, self.size + 1, _MAX_SIZE)
        if beyond:
            raise self.fail(f"a checkpoint signs {beyond[0].tree_size} leaves but the log "
                            f"holds {self.size}: leaf {self.size} onwards is missing",
                            leaf=self.size)
        self.check_tile_extent()
        return VerifyReport(tree_size=self.size, leaves_checked=self.size,
                            checkpoints_checked=self.checkpoints, root=self.edge.root())

    def _in_workers(self, spans: Sequence[tuple[int, int]], workers: int, url: str) -> None:
        """`check_leaves` of each span in worker processes, a few spans ahead of the
        tree, taken in order. On a failure the spans not yet started are cancelled and
        the running ones finish before the workers end: nothing is killed mid-task (a
        `multiprocessing.Pool` terminated while a worker held its queue's lock could
        hang for good)."""
        ahead = 4 * workers
        with ProcessPoolExecutor(workers, mp_context=_pool_context(),
                                 initializer=_start_worker, initargs=(url,)) as pool:
            pending: deque[tuple[tuple[int, int], Future[LeafCheck]]] = deque()
            following = iter(spans)
            try:
                for span in islice(following, ahead):
                    pending.append((span, pool.submit(_check_in_worker, span)))
                while pending:
                    (start, stop), future = pending.popleft()
                    check = future.result()
                    for span in islice(following, 1):
                        pending.append((span, pool.submit(_check_in_worker, span)))
                    self.chunk(start, stop, check)
            finally:
                for _, future in pending:
                    future.cancel()

    def chunk(self, start: int, stop: int, check: LeafCheck) -> None:
        """Extend the tree by the leaves [start, stop), whose hashes `check` gives, up to
        the first bad one; check every checkpoint and stored node on the way."""
        first_bad = min(check.bad) if check.bad else None
        good = stop if first_bad is None else first_bad[0]
        assert len(check.hashes) >= (good - start) * merkle.HASH_SIZE
        runs: list[merkle.NodeRun] = []
        position = start
        for stored in log.checkpoints_between(self.session, start + 1, good):
            runs += self.extend(check.hashes, start, position, stored.tree_size)
            position = stored.tree_size
            self.check_checkpoint(stored)
        runs += self.extend(check.hashes, start, position, good)
        if first_bad is not None:
            raise self.fail(first_bad[1], leaf=first_bad[0])
        self.compare_nodes(runs)

    def extend(self, joined: bytes, start: int, low: int, high: int) -> list[merkle.NodeRun]:
        if high == low:
            return []
        extension = merkle.extend(self.edge, joined[(low - start) * merkle.HASH_SIZE:
                                                    (high - start) * merkle.HASH_SIZE])
        self.edge = extension.edge
        return [run for run in extension.runs if run.level > 0]

    def compare_nodes(self, runs: Sequence[merkle.NodeRun]) -> None:
        by_level: dict[int, list[merkle.NodeRun]] = {}
        for run in runs:
            by_level.setdefault(run.level, []).append(run)
        for level, level_runs in sorted(by_level.items()):
            expected = b"".join(run.hashes for run in level_runs)
            index = _first_node_mismatch(self.session, level, level_runs[0].first_index,
                                         expected)
            if index is not None:
                leaves = f"{index << level} to {((index + 1) << level) - 1}"
                raise self.fail(f"stored Merkle node (level {level}, index {index}) over "
                                f"leaves {leaves} differs from the one recomputed from the "
                                f"leaves: proofs through it would fail", node=(level, index))

    def check_checkpoint(self, stored: log.StoredCheckpoint) -> None:
        size = stored.tree_size
        assert self.edge.size == size
        root = self.edge.root()
        if stored.root != root:
            raise self.fail(f"checkpoint {size}: its root differs from the root recomputed "
                            f"from leaves 0 to {size - 1}", checkpoint=size)
        try:
            key = self.key
            if not isinstance(key, note.VerifierKey):
                # a bare public key: the note names its key by the checkpoint's origin
                key = note.VerifierKey(note.parse_checkpoint(
                    note.parse_note(stored.note).text).origin, key)
            signed = note.open_checkpoint(stored.note, key, ed25519_verify)
        except note.NoteError as error:
            raise self.fail(f"checkpoint {size}: {error}", checkpoint=size) from None
        if signed.size != size or signed.root != root:
            raise self.fail(f"checkpoint {size}: the signed note says size {signed.size} "
                            f"with another root than the leaves give", checkpoint=size)
        self.checkpoints += 1

    def check_tile_extent(self) -> None:
        """No tile holds nodes beyond the tree (compared ranges cover the rest)."""
        levels = log.tile_levels(self.session)
        for level in sorted(set(levels) | set(range(self.size.bit_length()))):
            nodes = self.size >> level
            tiles = -(-nodes // log.TILE_WIDTH)
            expected = (tiles, tiles - 1, nodes * merkle.HASH_SIZE) if nodes else None
            if levels.get(level) != expected:
                raise self.fail(f"the stored Merkle tiles of level {level} do not hold "
                                f"exactly the {nodes} nodes of a tree of {self.size} leaves",
                                node=(level, nodes))


def verify(session: Session, public_key: str | bytes | note.VerifierKey, *,
           workers: int = 1, chunk: int = VERIFY_CHUNK) -> VerifyReport:
    """Recompute the whole log from its leaf texts and check it against every stored
    hash, node and signed checkpoint; report the first problem.

    `public_key` is a vkey text, a `VerifierKey`, or the raw 32-byte Ed25519 key (then a
    signature must carry the checkpoint's origin as its name). A derived leaf's text is
    rendered from its row (`store.log.register_derived_kind`), so a changed, missing or
    misplaced row is a bad leaf.

    `workers` > 1 reads and hashes the leaves, `chunk` at a time, in that many other
    processes on the session's database; only for a session that has written nothing
    (they see what is committed). The report is the same either way.
    """
    assert chunk > 0, "a chunk holds leaves"
    key = note.parse_vkey(public_key) if isinstance(public_key, str) else public_key
    if isinstance(key, bytes) and len(key) != note.PUBLIC_KEY_SIZE:
        raise ValueError("an Ed25519 public key is 32 bytes")
    try:
        return _Verifier(session, key).run(workers, chunk)
    except _Failed as failed:
        return failed.report
