"""The tamper-evident log's tables and every query on them.

`log_leaf` holds one row per stored leaf: its index, its kind and its canonical JSON
text, whose UTF-8 bytes are what RFC 6962 hashes. A *derived* kind (a transfer, a
shipment, …: a record that has its own table row naming its leaf) keeps no text here:
the text is rendered from that row by the renderer its store module registers
(`register_derived_kind`), so the record is written once, and a changed row no longer
hashes to the stored leaf hash; an appended run of consecutive derived leaves of one
kind is ONE `log_leaf` row, `idx` its first index and `last_idx` its last (a batch of
8,190 transfers writes one row, not 8,190). `merkle_tile` holds the tree's complete
nodes, 256 consecutive node hashes of one level per row (level 0 = the leaf hashes), so
any node is one row read and a proof O(log n) of them. `checkpoint` holds one signed
note per published tree size.

Invariants kept here:

- the leaves are exactly indices 0 … n-1, n being the tree size, each held by exactly
  one row: a stored leaf (`last_idx` NULL) or a run (`idx` … `last_idx`, no text);
- tile (level, t) holds nodes 256·t … of that level, all of them complete in a tree
  of n leaves: min(256, (n >> level) - 256·t) hashes; only the last tile of a level can
  be partial, and an append only ever extends it (nodes never change);
- a checkpoint's root is the root of the leaves [0, tree_size);
- appends are serialized: SQLite's `BEGIN IMMEDIATE` (see `store.db`) and on PostgreSQL
  a transaction-level advisory lock scoped to the current schema.

Tiles are immutable once written, so proof serving reads them through a bounded per-engine
cache; a session that appended in its open transaction bypasses the cache, so tiles
that may yet roll back are never cached.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from dronedeal.core.merkle import HASH_SIZE, NodeRun, RightEdge
from dronedeal.store.base import Base

#: nodes per tile row, and the bytes they take
TILE_WIDTH: Final = 256
_TILE_BITS: Final = 8
_TILE_MASK: Final = TILE_WIDTH - 1
assert 1 << _TILE_BITS == TILE_WIDTH
TILE_BYTES: Final = TILE_WIDTH * HASH_SIZE
#: longest leaf kind
KIND_LENGTH: Final = 32
#: tiles kept per engine by the proof cache (8 KiB each: 64 MiB, a 1M-leaf log whole)
TILE_CACHE_TILES: Final = 8192
#: first key of the PostgreSQL advisory lock that serializes appends ("dron")
_PG_LOCK_CLASS: Final = 0x64726F6E
_APPENDED: Final = "dronedeal.log.appended_in"

# SQLite makes an INTEGER PRIMARY KEY the rowid: no second index on the hot insert path
_INDEX = BigInteger().with_variant(Integer, "sqlite")


class LogLeaf(Base):
    """One leaf of the log: the canonical JSON of one event."""

    __tablename__ = "log_leaf"
    __table_args__ = (
        CheckConstraint("idx >= 0", name="idx_nonnegative"),
        CheckConstraint("(last_idx IS NULL AND leaf IS NOT NULL) OR "
                        "(last_idx >= idx AND leaf IS NULL)", name="leaf_or_run"),
        # the runs alone, for finding the run that holds a leaf among stored leaves
        Index("ix_log_leaf_runs", "idx", "last_idx", sqlite_where=text("last_idx IS NOT NULL"),
              postgresql_where=text("last_idx IS NOT NULL")),
    )

    #: position in the log, 0-based, without gaps (a run's first leaf)
    idx: Mapped[int] = mapped_column(_INDEX, primary_key=True, autoincrement=False)
    #: what the event is ("party", "transfer", …)
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    #: RFC 8785 canonical JSON; its UTF-8 bytes are what is hashed. NULL for a run of a
    #: derived kind, whose texts their own rows render. The leaf hash itself is not
    #: repeated here: level 0 of `merkle_tile` holds it, and `verify` recomputes it from
    #: the text (storing it twice cost a third of the append).
    leaf: Mapped[str | None] = mapped_column(Text)
    #: the last leaf of a run of derived leaves from `idx`; NULL for a stored leaf
    last_idx: Mapped[int | None] = mapped_column(BigInteger)


class MerkleTile(Base):
    """256 consecutive complete-node hashes of one tree level."""

    __tablename__ = "merkle_tile"
    __table_args__ = (
        CheckConstraint("level >= 0 AND level < 64", name="level_range"),
        CheckConstraint("tile_index >= 0", name="tile_index_nonnegative"),
        CheckConstraint(f"length(hashes) >= {HASH_SIZE} AND length(hashes) <= {TILE_BYTES} "
                        f"AND length(hashes) % {HASH_SIZE} = 0", name="hashes_size"),
    )

    #: 0 = leaf hashes; a node of level L covers 2**L leaves
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    #: the tile holds the nodes 256·tile_index … of its level
    tile_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: concatenated 32-byte node hashes
    hashes: Mapped[bytes] = mapped_column(LargeBinary(TILE_BYTES))


class LogCheckpoint(Base):
    """A signed checkpoint (C2SP note) of the tree at one size."""

    __tablename__ = "checkpoint"
    __table_args__ = (CheckConstraint("tree_size > 0", name="tree_size_positive"),)

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: root hash of the leaves [0, tree_size)
    root: Mapped[bytes] = mapped_column(LargeBinary(HASH_SIZE))
    #: the whole signed note text
    note: Mapped[str] = mapped_column(Text)
    #: when it was signed, UTC
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


LEAF: Final[Table] = LogLeaf.__table__  # type: ignore[assignment]
TILE: Final[Table] = MerkleTile.__table__  # type: ignore[assignment]
CHECKPOINT: Final[Table] = LogCheckpoint.__table__  # type: ignore[assignment]
TABLES: Final = (LEAF, TILE, CHECKPOINT)
#: the index of the log's last leaf (no row: an empty log): the end of the highest row
LAST_LEAF: Final = (select(func.coalesce(LEAF.c.last_idx, LEAF.c.idx))
                    .order_by(LEAF.c.idx.desc()).limit(1))


#: render(session, first, last) -> {leaf index: canonical text} of every row of one
#: derived kind whose leaf index lies in [first, last]
Renderer = Callable[[Session, int, int], dict[int, str]]
#: pick(session, indices) -> the same, of the rows whose leaf index is one of `indices`
#: (at most `PICK_CHUNK` of them)
Picker = Callable[[Session, Sequence[int]], dict[int, str]]
#: leaf indices one look-up by index carries
PICK_CHUNK: Final = 4096


@dataclass(frozen=True, slots=True)
class DerivedKind:
    """A leaf kind whose text is rendered from the row of `table` that names the leaf."""

    kind: str
    render: Renderer
    table: str
    pick: Picker | None = None


_DERIVED: dict[str, DerivedKind] = {}


def register_derived_kind(kind: str, render: Renderer, *, table: str | None = None,
                          pick: Picker | None = None) -> None:
    """From now on leaves of `kind` keep no text in `log_leaf`: `render` gives it back
    from the rows of `table` (named in messages), byte for byte as it was appended, and
    `pick` (if given) the same for scattered leaves in one query. Registering the same
    kind again replaces its renderers."""
    assert 0 < len(kind) <= KIND_LENGTH
    _DERIVED[kind] = DerivedKind(kind, render, table or kind, pick)


def picked(column: str, indices: Sequence[int], *, sqlite: bool) -> tuple[str, tuple[Any, ...]]:
    """`column` is one of `indices`, as SQL in the driver's parameter style with its
    parameters: the condition of a picker's query."""
    assert 0 < len(indices) <= PICK_CHUNK, "a pick carries 1 to PICK_CHUNK indices"
    if sqlite:
        return f"{column} IN ({', '.join('?' for _ in indices)})", tuple(indices)
    return f"{column} = ANY(%s)", (list(indices),)


def derived_kinds() -> dict[str, DerivedKind]:
    return dict(_DERIVED)


class MissingRowError(LookupError):
    """A derived leaf whose row is gone: the store is damaged (`dronedeal audit verify`
    names it)."""

    def __init__(self, index: int, kind: str) -> None:
        super().__init__(f"leaf {index} ({kind}) keeps its text in a row that is missing; "
                         f"run `dronedeal audit verify`")


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    tree_size: int
    root: bytes
    note: str
    created_at: datetime


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# -- appending ---------------------------------------------------------------------


def lock_for_append(session: Session) -> None:
    """Serialize appenders until the transaction ends."""
    dialect = _dialect(session)
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:cls, hashtext(current_schema()))"),
                        {"cls": _PG_LOCK_CLASS})
    else:
        # SQLite: the engine of store.db begins every transaction IMMEDIATE, which holds
        # the database's write lock from the first statement to the commit.
        assert dialect == "sqlite", f"the log runs on SQLite or PostgreSQL, not {dialect}"
        session.connection()


def tree_size(session: Session) -> int:
    """The number of leaves in the log."""
    last = session.execute(LAST_LEAF).scalar_one_or_none()
    return 0 if last is None else int(last) + 1


def _mark_appended(session: Session) -> None:
    session.info[_APPENDED] = session.get_transaction()


def insert_leaves(session: Session, first_index: int, leaves: Sequence[tuple[str, str]]
                  ) -> None:
    """Write leaves first_index, first_index+1, … (kind, canonical JSON); a derived
    kind's text is not written (its row holds it).

    The bulk path of the log: leaves with their text by `executemany` on SQLite and
    `COPY` on PostgreSQL; each run of consecutive derived leaves of one kind as one row
    (a run of 8,190 transfers is one row).
    """
    _mark_appended(session)
    derived = _DERIVED.keys()
    stored: list[tuple[int, str, str]] = []
    runs: list[list[Any]] = []  # [first index, kind, last index]
    for index, (kind, leaf) in enumerate(leaves, first_index):
        if kind not in derived:
            stored.append((index, kind, leaf))
        elif runs and runs[-1][1] == kind and runs[-1][2] == index - 1:
            runs[-1][2] = index
        else:
            runs.append([index, kind, index])
    dialect = _dialect(session)
    connection = session.connection()
    if stored and dialect == "postgresql":
        raw: Any = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(
                "COPY log_leaf (idx, kind, leaf) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "varchar", "text"])
            for row in stored:
                copy.write_row(row)
    elif stored and dialect == "sqlite":
        connection.exec_driver_sql("INSERT INTO log_leaf (idx, kind, leaf) VALUES (?, ?, ?)",
                                   stored)
    elif stored:
        session.execute(insert(LEAF), [{"idx": index, "kind": kind, "leaf": leaf}
                                       for index, kind, leaf in stored])
    if runs:
        session.execute(insert(LEAF), [{"idx": first, "kind": kind, "last_idx": last}
                                       for first, kind, last in runs])


def insert_derived(session: Session, first_index: int, kind: str, count: int) -> None:
    """Write `count` leaves of a derived `kind` from `first_index` on: one row for the
    run, their text being in the rows of the kind's table (what `insert_leaves` writes
    for such a run, without a Python step per leaf)."""
    assert kind in _DERIVED, f"leaf kind {kind!r} is not derived"
    assert count > 0, "a run holds at least one leaf"
    _mark_appended(session)
    session.execute(insert(LEAF), [{"idx": first_index, "kind": kind,
                                    "last_idx": first_index + count - 1}])


def edge_tiles(session: Session, size: int) -> dict[tuple[int, int], bytes]:
    """The last tile of every level of a tree of `size` leaves: they hold its right
    edge and the partial tiles an append extends."""
    keys = [(level, ((size >> level) - 1) // TILE_WIDTH) for level in range(size.bit_length())]
    if not keys:
        return {}
    rows = session.execute(select(TILE.c.level, TILE.c.tile_index, TILE.c.hashes)
                           .where(tuple_(TILE.c.level, TILE.c.tile_index).in_(keys)))
    tiles = {(level, index): bytes(hashes) for level, index, hashes in rows}
    for level, index in keys:
        nodes = size >> level
        expected = (nodes - index * TILE_WIDTH) * HASH_SIZE
        stored = tiles.get((level, index))
        if stored is None or len(stored) != min(expected, TILE_BYTES):
            raise AssertionError(
                f"merkle_tile ({level}, {index}) does not hold the nodes of a tree of {size} "
                f"leaves; run `dronedeal audit verify`")
    return tiles


class _TileDict:
    """A NodeSource over tiles already read."""

    def __init__(self, tiles: Mapping[tuple[int, int], bytes]) -> None:
        self._tiles = tiles

    def node(self, level: int, index: int) -> bytes:
        tile, offset = divmod(index, TILE_WIDTH)
        return self._tiles[level, tile][offset * HASH_SIZE : (offset + 1) * HASH_SIZE]


def right_edge(size: int, tiles: Mapping[tuple[int, int], bytes]) -> RightEdge:
    """The right edge of a tree of `size` leaves from its `edge_tiles`."""
    return RightEdge.from_source(_TileDict(tiles), size)


def write_nodes(session: Session, size: int, runs: Sequence[NodeRun],
                tiles: Mapping[tuple[int, int], bytes]) -> None:
    """Store the nodes an append to a tree of `size` leaves created: extend each level's
    partial last tile (from `edge_tiles`) and add new tiles."""
    _mark_appended(session)
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for run in runs:
        assert run.first_index == size >> run.level, "a run continues its level"
        tile, offset = divmod(run.first_index, TILE_WIDTH)
        position = 0
        if offset:
            prefix = tiles[run.level, tile]
            assert len(prefix) == offset * HASH_SIZE, "the partial tile ends where the run starts"
            position = min(len(run.hashes), TILE_BYTES - len(prefix))
            updates.append({"b_level": run.level, "b_tile": tile,
                            "b_hashes": prefix + run.hashes[:position]})
            tile += 1
        while position < len(run.hashes):
            inserts.append({"level": run.level, "tile_index": tile,
                            "hashes": run.hashes[position : position + TILE_BYTES]})
            position += TILE_BYTES
            tile += 1
    if updates:
        session.execute(
            update(TILE)
            .where(TILE.c.level == bindparam("b_level"), TILE.c.tile_index == bindparam("b_tile"))
            .values(hashes=bindparam("b_hashes")),
            updates)
    if not inserts:
        return
    dialect = _dialect(session)
    if dialect == "postgresql":  # a batch of 8,190 leaves adds some 64 tiles of 8 KiB
        raw: Any = session.connection().connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(
                "COPY merkle_tile (level, tile_index, hashes) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["int2", "int8", "bytea"])
            for row in inserts:
                copy.write_row((row["level"], row["tile_index"], row["hashes"]))
    elif dialect == "sqlite":
        session.connection().exec_driver_sql(
            "INSERT INTO merkle_tile (level, tile_index, hashes) VALUES (?, ?, ?)",
            [(row["level"], row["tile_index"], row["hashes"]) for row in inserts])
    else:
        session.execute(insert(TILE), inserts)


def insert_checkpoint(session: Session, *, tree_size: int, root: bytes, note: str,
                      created_at: datetime) -> None:
    assert created_at.tzinfo is not None, "checkpoint times are UTC"
    session.execute(insert(CHECKPOINT), [{"tree_size": tree_size, "root": root, "note": note,
                                          "created_at": created_at.astimezone(UTC)}])


# -- reading -----------------------------------------------------------------------


def _checkpoint(row: Any) -> StoredCheckpoint:
    created = row.created_at
    if created.tzinfo is None:  # SQLite keeps no zone; we only ever write UTC
        created = created.replace(tzinfo=UTC)
    return StoredCheckpoint(int(row.tree_size), bytes(row.root), row.note, created)


def latest_checkpoint(session: Session) -> StoredCheckpoint | None:
    row = session.execute(select(CHECKPOINT).order_by(CHECKPOINT.c.tree_size.desc())
                          .limit(1)).first()
    return None if row is None else _checkpoint(row)


def checkpoint_at(session: Session, tree_size: int) -> StoredCheckpoint | None:
    row = session.execute(select(CHECKPOINT).where(CHECKPOINT.c.tree_size == tree_size)).first()
    return None if row is None else _checkpoint(row)


def checkpoints_between(session: Session, first_size: int, last_size: int
                        ) -> list[StoredCheckpoint]:
    """Checkpoints with first_size <= tree_size <= last_size, by size."""
    rows = session.execute(select(CHECKPOINT)
                           .where(CHECKPOINT.c.tree_size.between(first_size, last_size))
                           .order_by(CHECKPOINT.c.tree_size))
    return [_checkpoint(row) for row in rows]


def checkpoint_count(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(CHECKPOINT)).scalar_one())


def fetch(session: Session, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Run `sql` (placeholders written `{}`) on the session's DB-API cursor.

    For the hot reads only (proof serving, verify, entries): per call SQLAlchemy's
    statement and row machinery costs more than these primary-key queries themselves.
    """
    connection = session.connection()
    mark = "?" if connection.dialect.name == "sqlite" else "%s"
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql.replace("{}", mark), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


# The row holding leaf {i}: the highest row starting at or before it (a run, or the
# stored leaf itself when that row starts at {i}); both halves read the primary key.
_HOLDER: Final = "(SELECT max(idx) FROM log_leaf WHERE idx <= {})"
_LEAF_AND_CHECKPOINT_SQL: Final = (
    "SELECT log_leaf.leaf, checkpoint.tree_size, checkpoint.root, log_leaf.kind, "
    "log_leaf.idx, log_leaf.last_idx FROM log_leaf "
    "JOIN checkpoint ON checkpoint.tree_size = {size} "
    f"WHERE log_leaf.idx = {_HOLDER} AND {{}} < checkpoint.tree_size")
_LEAF_AND_LATEST: Final = _LEAF_AND_CHECKPOINT_SQL.replace(
    "{size}", "(SELECT max(tree_size) FROM checkpoint)")
_LEAF_AND_SIZE: Final = _LEAF_AND_CHECKPOINT_SQL.replace("{size}", "{}")


def leaf_and_checkpoint(session: Session, index: int, size: int | None
                        ) -> tuple[str, int, bytes] | None:
    """Leaf text at `index` with the checkpoint at `size` (None: the latest) — its size
    and root — in one query (and for a derived leaf one more, for its row); None when
    either is missing or the leaf is not below it."""
    if size is None:
        rows = fetch(session, _LEAF_AND_LATEST, (index, index))
    else:
        rows = fetch(session, _LEAF_AND_SIZE, (size, index, index))
    if not rows:
        return None
    leaf, tree_size, root, kind, first, last = rows[0]
    if index > (first if last is None else last):  # the row before it ends before it
        return None
    return (_rendered(session, index, kind) if leaf is None else leaf), int(tree_size), \
        bytes(root)


_STORED_PICKS: Final = "SELECT idx, kind, leaf FROM log_leaf WHERE last_idx IS NULL AND {}"
_RUNS_OVER: Final = ("SELECT idx, kind, last_idx FROM log_leaf WHERE last_idx IS NOT NULL "
                     "AND idx <= {} AND last_idx >= {} ORDER BY idx")


def leaf_texts(session: Session, indices: Sequence[int]) -> dict[int, str]:
    """The texts of the leaves at `indices` (scattered anywhere in the log), by index,
    in a few queries: per `PICK_CHUNK` indices one for stored leaves and one for the runs
    over them, and per derived kind among them one more; an index the log does not hold
    is left out. Raises MissingRowError when a derived leaf's row is missing."""
    texts: dict[int, str] = {}
    wanted = sorted(set(indices))
    sqlite = _dialect(session) == "sqlite"
    for start in range(0, len(wanted), PICK_CHUNK):
        chunk = wanted[start : start + PICK_CHUNK]
        condition, params = picked("idx", chunk, sqlite=sqlite)
        for index, _kind, leaf in fetch(session, _STORED_PICKS.format(condition), params):
            texts[index] = leaf
        runs = fetch(session, _RUNS_OVER, (chunk[-1], chunk[0]))
        firsts = [first for first, _, _ in runs]
        by_kind: dict[str, list[int]] = {}
        for index in chunk:
            holder = bisect.bisect_right(firsts, index) - 1
            if index not in texts and holder >= 0 and index <= runs[holder][2]:
                by_kind.setdefault(runs[holder][1], []).append(index)
        for kind, derived_indices in by_kind.items():
            derived = _DERIVED.get(kind)
            if derived is None or derived.pick is None:
                for index in derived_indices:
                    texts[index] = _rendered(session, index, kind)
                continue
            rendered = derived.pick(session, derived_indices)
            for index in derived_indices:
                if index not in rendered:
                    raise MissingRowError(index, kind)
                texts[index] = rendered[index]
    return texts


def leaf_text(session: Session, index: int) -> str | None:
    """The text of leaf `index`, None when the log has no such leaf."""
    rows = leaves_between(session, index, index + 1) if index >= 0 else []
    return rows[0][2] if rows else None


def _rendered(session: Session, index: int, kind: str) -> str:
    derived = _DERIVED.get(kind)
    rendering = None if derived is None else derived.render(session, index, index).get(index)
    if rendering is None:
        raise MissingRowError(index, kind)
    return rendering


# The rows holding leaves {start} … {stop}-1: the runs from before {start} that reach
# it (the partial index; one in a sound log), then the rows starting in the range.
_ROWS_SQL: Final = (
    "SELECT idx, kind, leaf, last_idx FROM log_leaf WHERE last_idx IS NOT NULL "
    "AND idx < {} AND last_idx >= {} UNION ALL "
    "SELECT idx, kind, leaf, last_idx FROM log_leaf WHERE idx >= {} AND idx < {} "
    "ORDER BY idx")


def leaves_between(session: Session, start: int, stop: int
                   ) -> list[tuple[int, str, str]]:
    """(index, kind, leaf) of the leaves start <= index < stop, by index: a
    bounded batch, read by primary-key range on either database, derived texts
    rendered; raises MissingRowError when a derived leaf's row is missing."""
    read = read_leaves(session, start, stop)
    for index, kind, leaf in read.rows:
        if leaf is None:
            raise MissingRowError(index, kind)
    return cast(list[tuple[int, str, str]], read.rows)


@dataclass(frozen=True, slots=True)
class LeafBatch:
    """Leaves of a range with their texts, as `read_leaves` found them."""

    #: (index, kind, text), by index; text None: a derived leaf whose row is missing
    rows: list[tuple[int, str, str | None]]
    #: (leaf index, derived kind) of rows that name a leaf of the range that is not of
    #: their kind (or one stored with its own text)
    strays: list[tuple[int, DerivedKind]]
    #: leaves of the range that more than one `log_leaf` row holds (only tampering
    #: makes one); `rows` keeps the first
    doubles: list[int]


def _leaves_held(session: Session, start: int, stop: int
                 ) -> tuple[list[tuple[int, str, str | None]], list[int]]:
    """(index, kind, stored text or None) of the leaves start <= index < stop, by index,
    runs spelled out leaf by leaf, with the indices held twice."""
    rows: list[tuple[int, str, str | None]] = []
    for first, kind, leaf, last in fetch(session, _ROWS_SQL, (start, start, start, stop)):
        if last is None:
            if first >= start:
                rows.append((first, kind, leaf))
        else:
            rows.extend((index, kind, None)
                        for index in range(max(first, start), min(last + 1, stop)))
    indices = [row[0] for row in rows]
    if all(map(operator.lt, indices, indices[1:])):
        return rows, []
    rows.sort(key=operator.itemgetter(0))
    doubles = sorted({a[0] for a, b in itertools.pairwise(rows) if a[0] == b[0]})
    unique = [row for position, row in enumerate(rows)
              if position == 0 or rows[position - 1][0] != row[0]]
    return unique, doubles


def read_leaves(session: Session, start: int, stop: int, *, every_kind: bool = False
                ) -> LeafBatch:
    """The leaves start <= index < stop with their texts: stored ones as stored, derived
    ones rendered (one range query per derived kind present). `every_kind` runs every
    registered renderer even when no leaf of its kind is in the range, so that rows
    naming a wrong leaf show up as strays (`verify`)."""
    rows, doubles = _leaves_held(session, start, stop)
    wanted = set(_DERIVED) if every_kind else {kind for _, kind, leaf in rows if leaf is None}
    if not wanted:
        return LeafBatch(rows, [], doubles)
    contiguous = len(rows) == stop - start  # no gap: leaf i is rows[i - start]
    by_index = {} if contiguous else {row[0]: row for row in rows}

    def held(index: int) -> tuple[int, str, str | None] | None:
        if contiguous:
            return rows[index - start] if start <= index < stop else None
        return by_index.get(index)

    rendered: dict[int, str] = {}
    strays: list[tuple[int, DerivedKind]] = []
    for kind in sorted(wanted):
        derived = _DERIVED.get(kind)
        if derived is None:
            continue
        for index, rendering in derived.render(session, start, stop - 1).items():
            leaf = held(index)
            if leaf is None or leaf[1] != kind or leaf[2] is not None or index in rendered:
                strays.append((index, derived))
            else:
                rendered[index] = rendering
    filled = [(index, kind, rendered.get(index) if leaf is None else leaf)
              for index, kind, leaf in rows]
    return LeafBatch(filled, sorted(strays, key=lambda stray: stray[0]), doubles)


def rows_beyond(session: Session, size: int) -> list[tuple[int, DerivedKind]]:
    """(leaf index, kind) of derived rows that name a leaf at or beyond `size`."""
    found = [(index, derived) for derived in _DERIVED.values()
             for index in derived.render(session, size, (1 << 63) - 1)]
    return sorted(found, key=lambda item: item[0])


def tiles_between(session: Session, level: int, first_tile: int, last_tile: int
                  ) -> dict[int, bytes]:
    """Tiles first_tile … last_tile of one level, by tile index."""
    rows = session.execute(
        select(TILE.c.tile_index, TILE.c.hashes)
        .where(TILE.c.level == level, TILE.c.tile_index.between(first_tile, last_tile)))
    return {int(index): bytes(hashes) for index, hashes in rows}


def tile_levels(session: Session) -> dict[int, tuple[int, int, int]]:
    """Per level: (number of tiles, highest tile index, total bytes of hashes)."""
    rows = session.execute(
        select(TILE.c.level, func.count(), func.max(TILE.c.tile_index),
               func.sum(func.length(TILE.c.hashes)))
        .group_by(TILE.c.level))
    return {int(level): (int(count), int(top), int(total)) for level, count, top, total in rows}


# -- proof serving -----------------------------------------------------------------


class TileCache:
    """Tiles of one database for proof serving, bounded; the oldest loaded goes first."""

    def __init__(self, capacity: int = TILE_CACHE_TILES) -> None:
        assert capacity > 0
        self.capacity = capacity
        self.tiles: OrderedDict[tuple[int, int], bytes] = OrderedDict()

    def put(self, key: tuple[int, int], hashes: bytes) -> None:
        self.tiles.pop(key, None)  # a re-read (grown) tile becomes the newest
        self.tiles[key] = hashes
        while len(self.tiles) > self.capacity:
            self.tiles.popitem(last=False)


_CACHES: weakref.WeakKeyDictionary[Engine, TileCache] = weakref.WeakKeyDictionary()


def tile_cache(session: Session) -> TileCache | None:
    """The engine's tile cache, or None while this session's transaction has appended."""
    if _APPENDED in session.info and session.info[_APPENDED] is session.get_transaction():
        return None
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    cache = _CACHES.get(engine)
    if cache is None:
        cache = _CACHES[engine] = TileCache()
    return cache


_TILE_QUERY = select(TILE.c.hashes).where(TILE.c.level == bindparam("level"),
                                          TILE.c.tile_index == bindparam("tile"))


class TileSource:
    """Nodes read from `merkle_tile` (a `core.merkle.NodeSource`), through the cache.

    A cached tile is only ever a prefix of the stored one (tiles grow, never change),
    so a node past its end means a re-read, not a miss.
    """

    def __init__(self, session: Session, cache: TileCache | None = None) -> None:
        self._session = session
        self._tiles = cache.tiles if cache is not None else OrderedDict()
        self._cache = cache

    def node(self, level: int, index: int) -> bytes:
        # the hot path of proof serving: shifts and masks, as TILE_WIDTH is 2**8
        start = (index & _TILE_MASK) * HASH_SIZE
        hashes = self._tiles.get((level, index >> _TILE_BITS))
        if hashes is None or len(hashes) <= start:
            hashes = self._load(level, index >> _TILE_BITS, start)
        return hashes[start : start + HASH_SIZE]

    def _load(self, level: int, tile: int, start: int) -> bytes:
        stored = self._session.execute(_TILE_QUERY, {"level": level, "tile": tile}
                                       ).scalar_one_or_none()
        if stored is None or len(stored) <= start:
            raise KeyError(f"no stored node at level {level}, index "
                           f"{tile * TILE_WIDTH + start // HASH_SIZE}")
        hashes = bytes(stored)
        if self._cache is not None:
            self._cache.put((level, tile), hashes)
        else:
            self._tiles[level, tile] = hashes
        return hashes
