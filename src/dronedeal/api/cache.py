"""Reports computed once per state of the log, shared by the API and the dashboard.

Every record that changes a figure (master data, events, transfers) is a log leaf, so a
report computed at one tree size stays valid until the log grows: the cache key holds
the tree size, and a grown log simply misses. Reading the tree size is one primary-key
look-up, far cheaper than a position over a million units.
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
    recently used go first); shared by the app's request threads.
    """

    def __init__(self, capacity: int = 64) -> None:
        assert capacity > 0
        self.capacity = capacity
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session: Session, key: tuple[Hashable, ...],
            compute: Callable[[], _T]) -> _T:
        full = (log.tree_size(session), *key)
        with self._lock:
            if full in self._items:
                self._items.move_to_end(full)
                found: _T = self._items[full]
                return found
        value = compute()
        with self._lock:
            self._items[full] = value
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return value


def figures(request: Request) -> Figures:
    """The app's cache of computed reports (made on first use)."""
    state = request.app.state
    found: Figures | None = getattr(state, "figures", None)
    if found is None:
        found = state.figures = Figures()
    return found
