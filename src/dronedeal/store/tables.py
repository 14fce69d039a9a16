"""All tables of dronedeal, imported here so that the metadata knows them."""

import dronedeal.store.compliance
import dronedeal.store.events
import dronedeal.store.ledger
import dronedeal.store.log
import dronedeal.store.master
import dronedeal.store.tallies
import dronedeal.store.users  # noqa: F401
