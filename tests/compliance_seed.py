"""Master data for compliance and license tests, written straight to the store.

Products, BOM lines, agreements and licenses go in through `store.master`, the same
functions the importer uses, so these tests do not depend on the pack reader.
`ensure_compliance_tables` creates the compliance tables when the schema's Alembic
revisions do not have them yet (a no-op once they do).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dronedeal.core.compliance import COMPONENT_INPUT, PRODUCT_INPUT
from dronedeal.core.records import Agreement, BomLine, Flow, License, Party, Product
from dronedeal.store import compliance as compliance_store
from dronedeal.store import master

US_FLOW = Flow("drones-to-us", "us-dod", "us-dod", "UA", True,
               ("uas.*", "cuas", "training"), ("us-uas-supply-chain",))
DK_FLOW = Flow("drones-for-ua", "dk-mod", "ua-mod", "UA", False, ("uas.*",), ("eu-baseline",))

PARTIES = (
    Party("us-dod", "US Department of Defense", "state", "US"),
    Party("ua-mod", "Ministry of Defence of Ukraine", "state", "UA"),
    Party("dk-mod", "Danish Ministry of Defence", "state", "DK"),
    Party("ua-mfr-001", "Vezha Aero LLC", "manufacturer", "UA"),
    Party("ua-mfr-002", "ТОВ «Skyline Dynamics»", "manufacturer", "UA"),
    Party("cn-mfr-001", "Shenzhen Sky Co., Ltd.", "manufacturer", "CN"),
)


def ensure_compliance_tables(engine: Engine) -> None:
    tables = [compliance_store.ComplianceEvaluationRow.__table__,
              compliance_store.ComplianceFindingRow.__table__,
              compliance_store.LicenseDrawdownRow.__table__]
    compliance_store.Base.metadata.create_all(engine, tables=tables, checkfirst=True)


def product(product_id: str = "prd-1", supplier_id: str = "ua-mfr-001",
            category: str = "uas.small", name: str = "Vezha-7") -> Product:
    return Product(product_id, supplier_id, name, category, 420000, "USD", 100)


def part(product_id: str, part_number: str, component_category: str, *,
         manufacturer: str = "Optika Kyiv", manufacturer_country: str = "UA",
         origin_country: str = "UA", quantity: int = 1) -> BomLine:
    return BomLine(product_id, part_number, component_category, manufacturer,
                   manufacturer_country, origin_country, quantity)


def seed(session: Session, products: Sequence[Product], bom: Sequence[BomLine],
         flows: Sequence[Flow] = (US_FLOW, DK_FLOW),
         licenses: Sequence[License] = ()) -> None:
    """Write parties, the products and BOM and one agreement with `flows`."""
    master.insert_records(session, "party", [(p, 1) for p in PARTIES])
    master.insert_records(session, "product", [(p, 1) for p in products])
    master.insert_records(session, "bom_line", [(b, 1) for b in bom])
    agreement = Agreement("ua-us-2025", "Drone deal", "USD", 3_000_000_000_000,
                          dt.date(2025, 8, 1), dt.date(2028, 12, 31), tuple(flows))
    master.insert_records(session, "agreement", [(agreement, 1)])
    master.insert_records(session, "license", [(lic, 1) for lic in licenses])


def replace_bom(session: Session, product_id: str, bom: Sequence[BomLine]) -> None:
    """Replace a product's BOM the way an import does: remove lines, insert the new."""
    for line in master.load_bom(session, [product_id]):
        master.remove_record(session, "bom_line", line.key)
    master.insert_records(session, "bom_line", [(b, 2) for b in bom])


def product_input(p: Product, supplier: Party) -> tuple[object, ...]:
    """A product as the rule engine reads it (`PRODUCT_INPUT` order)."""
    values = {"product_id": p.product_id, "supplier_id": p.supplier_id,
              "supplier_name": supplier.name, "supplier_country": supplier.country,
              "name": p.name, "category": p.category, "nsn": p.nsn,
              "unit_price": p.unit_price, "currency": p.currency,
              "monthly_capacity": p.monthly_capacity}
    return tuple(values[f] for f in PRODUCT_INPUT)


def component_input(b: BomLine) -> tuple[object, ...]:
    """A BOM line as the rule engine reads it (`COMPONENT_INPUT` order)."""
    values = {"product_id": b.product_id, "part_number": b.part_number,
              "component_category": b.component_category, "manufacturer": b.manufacturer,
              "manufacturer_country": b.manufacturer_country,
              "origin_country": b.origin_country, "quantity": b.quantity}
    return tuple(values[f] for f in COMPONENT_INPUT)
