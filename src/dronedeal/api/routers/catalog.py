"""Lists and records: parties, products (with BOM), agreements, orders, licenses (with
what is left), lots, units, cases, payments and compliance findings.

Each route is one call to `services.access`, which applies the caller's scope; a record
outside it answers 404 exactly as a missing one does.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query

from dronedeal.api.deps import PathId, QueryId, Reading, Viewer, Writing, WritingViewer
from dronedeal.api.paging import Cursor, Limit, Page, decode_cursor, page
from dronedeal.services import access

router = APIRouter(tags=["records"])

Id = PathId
Record = dict[str, Any]


@router.get("/parties", response_model=Page)
def list_parties(session: Reading, viewer: Viewer, cursor: Cursor = None,
                 limit: Limit = 50) -> Page:
    """Parties: states, agencies, manufacturers, funds."""
    return page(*access.list_parties(session, viewer, after=decode_cursor(cursor, str),
                                     limit=limit))


@router.get("/parties/{party_id}")
def get_party(party_id: Id, session: Reading, viewer: Viewer) -> Record:
    return access.get_party(session, viewer, party_id)


@router.get("/products", response_model=Page)
def list_products(session: Reading, viewer: Viewer, cursor: Cursor = None,
                  limit: Limit = 50) -> Page:
    """Catalog products (their BOM is on the product's own page)."""
    return page(*access.list_products(session, viewer, after=decode_cursor(cursor, str),
                                      limit=limit))


@router.get("/products/{product_id}")
def get_product(product_id: Id, session: Reading, viewer: Viewer) -> Record:
    """A product with its bill of materials."""
    return access.get_product(session, viewer, product_id)


@router.get("/agreements", response_model=Page)
def list_agreements(session: Reading, viewer: Viewer, cursor: Cursor = None,
                    limit: Limit = 50) -> Page:
    return page(*access.list_agreements(session, viewer, after=decode_cursor(cursor, str),
                                        limit=limit))


@router.get("/agreements/{agreement_id}")
def get_agreement(agreement_id: Id, session: Reading, viewer: Viewer) -> Record:
    return access.get_agreement(session, viewer, agreement_id)


@router.get("/orders", response_model=Page)
def list_orders(session: Reading, viewer: Viewer, cursor: Cursor = None,
                limit: Limit = 50) -> Page:
    return page(*access.list_orders(session, viewer, after=decode_cursor(cursor, str),
                                    limit=limit))


@router.get("/orders/{order_id}")
def get_order(order_id: Id, session: Reading, viewer: Viewer) -> Record:
    """An order; another manufacturer's order answers 404, like a missing one."""
    return access.get_order(session, viewer, order_id)


@router.get("/licenses", response_model=Page)
def list_licenses(session: Reading, viewer: Viewer, cursor: Cursor = None,
                  limit: Limit = 50) -> Page:
    """Export licenses, each with the quantity and value left on it."""
    return page(*access.list_licenses(session, viewer, after=decode_cursor(cursor, str),
                                      limit=limit))


@router.get("/licenses/{license_id}")
def get_license(license_id: Id, session: Reading, viewer: Viewer) -> Record:
    return access.get_license(session, viewer, license_id)


@router.get("/lots", response_model=Page)
def list_lots(session: Reading, viewer: Viewer, cursor: Cursor = None,
              limit: Limit = 50) -> Page:
    """Lots: shipped units grouped by lot and manufacturer, with inspection counts."""
    return page(*access.list_lots(session, viewer, after=decode_cursor(cursor, str, str),
                                  limit=limit))


@router.get("/lots/{lot_id}")
def get_lot(lot_id: Id, session: Reading, viewer: Viewer) -> Record:
    return access.get_lot(session, viewer, lot_id)


@router.get("/units/{serial}")
def get_unit(serial: Id, session: Reading, viewer: Viewer,
             manufacturer_id: Annotated[str | None, Query(
                 max_length=64, description="the maker, when two makers used the serial")
             ] = None) -> Record:
    """A unit: its shipment, inspection, order, license, findings and log leaf."""
    return access.get_unit(session, viewer, serial, manufacturer_id)


@router.get("/cases", response_model=Page)
def list_cases(session: Reading, viewer: Viewer, cursor: Cursor = None,
               limit: Limit = 50) -> Page:
    """Purchase case lines (e.g. FMS letters of offer) with the units delivered."""
    return page(*access.list_cases(session, viewer, after=decode_cursor(cursor, str, int),
                                   limit=limit))


@router.get("/cases/{case_id}")
def get_case(case_id: Id, session: Reading, viewer: Viewer) -> Record:
    return access.get_case(session, viewer, case_id)


@router.get("/payments", response_model=Page)
def list_payments(session: Reading, viewer: Viewer, cursor: Cursor = None,
                  limit: Limit = 50) -> Page:
    return page(*access.list_payments(session, viewer, after=decode_cursor(cursor, str),
                                      limit=limit))


@router.get("/payments/{payment_id}")
def get_payment(payment_id: Id, session: Reading, viewer: Viewer) -> Record:
    return access.get_payment(session, viewer, payment_id)


@router.get("/findings", response_model=Page)
def list_findings(session: Writing, viewer: WritingViewer, *, cursor: Cursor = None,
                  limit: Limit = 50,
                  on: Annotated[dt.date | None, Query(description="default: today")] = None,
                  agreement_id: QueryId = None) -> Page:
    """Compliance findings in force on a date (the `check` items of SPEC §5)."""
    return page(*access.list_findings(
        session, viewer, on=on or dt.date.today(), agreement_id=agreement_id,
        after=decode_cursor(cursor, str, str, str, str), limit=limit))
