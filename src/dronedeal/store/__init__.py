"""Tables and queries. Importing the package loads the modules that register derived
log leaf kinds (`log.register_derived_kind`), so that every reader of the log can
render them."""

from dronedeal.store import events, ledger

__all__ = ["events", "ledger"]
