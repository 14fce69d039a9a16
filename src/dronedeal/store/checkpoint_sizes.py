"""The tree sizes at which checkpoints were signed, for the audit page's choice of an
earlier size to prove consistency from (SPEC §6, §8). Bounded reads of one column."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dronedeal.store.log import LogCheckpoint


def earlier_sizes(session: Session, below: int, *, newest: int = 20) -> list[int]:
    """The first checkpoint's size and the `newest` largest sizes under `below`, ascending."""
    assert newest > 0, "at least one size"
    size = LogCheckpoint.tree_size
    first = session.execute(select(func.min(size)).where(size < below)).scalar_one()
    latest = session.scalars(select(size).where(size < below).order_by(size.desc())
                             .limit(newest))
    return sorted({int(s) for s in latest} | ({int(first)} if first is not None else set()))
