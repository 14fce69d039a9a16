"""Reports computed once per state of the log, shared by the API and the dashboard.

Every record that changes a figure (master data, events, transfers) is a log leaf, so a
report computed at one tree size stays valid until the log grows: the cache key holds
the tree size, and a grown log simply misses. Reading the tree size is one primary-key
look-up, far cheaper than a position over a million units, and a request reads it once
(`Figures.at`), however many reports it looks up. The freshness is exact: an import
by another process, a CLI one included, is seen by the next request; nothing expires
on a timer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy.orm import Session

from dronedeal.store import log

_T = TypeVar("_T")


class Figures:
    """Reports already computed, keyed by what they depend on and the log's tree size.

    Every record that changes a figure (master data, events, transfers) is a log leaf,
    so a report computed at one tree size is valid until the log grows; a key holds the
    tree size and a grown log simply misses. Holds at most `capacity` reports (least
    recently used go first); shared by the app's request threads, and a report missing
    for several of them at once is computed by one while the others wait for it.
    """

    def __init__(self, capacity: int = 64) -> None:
        assert capacity > 0
        self.capacity = capacity
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        #: a lock per key being computed (see `_lookup`)
        self._computing: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def at(self, session: Session) -> Snapshot:
        """The reports valid for the log as `session` sees it (reads its size once)."""
        return Snapshot(self, log.tree_size(session))

    def at_size(self, tree_size: int) -> Snapshot:
        """The reports valid for the log at `tree_size`, read by the caller in the
        transaction it computes any missing report in."""
        return Snapshot(self, tree_size)

    def get(self, session: Session, key: tuple[Hashable, ...],
            compute: Callable[[], _T]) -> _T:
        """The report of `key` for the log as `session` sees it; `compute` makes it on a
        miss."""
        return self.at(session).get(key, compute)

    def _peek(self, full: tuple[Hashable, ...]) -> object | None:
        with self._lock:
            found: object | None = self._items.get(full)
            if found is not None:
                self._items.move_to_end(full)
            return found

    def _lookup(self, full: tuple[Hashable, ...], compute: Callable[[], _T]) -> _T:
        with self._lock:
            if full in self._items:
                self._items.move_to_end(full)
                found: _T = self._items[full]
                return found
            gate = self._computing.setdefault(full, threading.Lock())
        # one computation per key at a time: the requests that miss together (say, right
        # after an import) wait for the first one's result instead of all computing it
        with gate:
            try:
                with self._lock:
                    if full in self._items:
                        self._items.move_to_end(full)
                        done: _T = self._items[full]
                        return done
                value = compute()
                with self._lock:
                    self._items[full] = value
                    while len(self._items) > self.capacity:
                        self._items.popitem(last=False)
                return value
            finally:
                with self._lock:
                    if self._computing.get(full) is gate:
                        del self._computing[full]


class Snapshot:
    """The cache seen at one tree size: what a request looks up after one size read."""

    __slots__ = ("figures", "tree_size")

    def __init__(self, figures: Figures, tree_size: int) -> None:
        assert tree_size >= 0
        self.figures = figures
        self.tree_size = tree_size

    def get(self, key: tuple[Hashable, ...], compute: Callable[[], _T]) -> _T:
        """The value of `key` at this tree size; `compute` makes it on a miss (a failing
        `compute` stores nothing)."""
        return self.figures._lookup((self.tree_size, *key), compute)

    def find(self, key: tuple[Hashable, ...]) -> object | None:
        """The value of `key` at this tree size if it is cached, else None."""
        return self.figures._peek((self.tree_size, *key))


def figures(request: Request) -> Figures:
    """The app's cache of computed reports (made on first use)."""
    state = request.app.state
    found: Figures | None = getattr(state, "figures", None)
    if found is None:
        found = state.figures = Figures()
    return found
