"""`audit verify` run both ways: in this process, and its leaves in worker processes.

The tamper tests check every report through `verified`, so each kind of damage is
named the same by the serial pass and by the parallel one (chunks of two leaves, so
even a small log spreads over several workers' chunks).
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dronedeal.core import note
from dronedeal.services import audit


def verified(engine: Engine, key: str | bytes | note.VerifierKey) -> audit.VerifyReport:
    """The report of `audit.verify` on the committed log, the same from both passes."""
    with Session(engine) as session:
        report = audit.verify(session, key)
    with Session(engine) as session:
        serial = audit.verify(session, key, chunk=2)
    with Session(engine) as session:
        parallel = audit.verify(session, key, workers=2, chunk=2)
    assert parallel == serial, "the parallel verify reports what the serial one does"
    # how far a failed pass got depends on the chunk; what it names does not
    assert (serial.problem, serial.first_bad_leaf, serial.bad_checkpoint, serial.bad_node,
            serial.root) == (report.problem, report.first_bad_leaf, report.bad_checkpoint,
                             report.bad_node, report.root)
    return report
