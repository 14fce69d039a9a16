"""Master-data records of a deal pack, as immutable plain data.

Each record knows its `kind`, its natural `key` and its `document()`: the JSON-ready
form (amounts as decimal strings with the currency's digits, dates ISO) that is stored
as a version and appended to the log. Two records are the same version exactly when
their documents are equal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from dronedeal.core.money import decimal_text, format_amount

PARTY_KINDS = ("state", "agency", "manufacturer", "fund", "auditor", "other")
PRODUCT_CATEGORIES = (
    "uas.small", "uas.tactical", "uas.long_range", "uas.interceptor", "usv", "ugv", "cuas",
    "ew", "air_defense", "munition", "vehicle", "training", "tech_transfer", "other",
)
COMPONENT_CATEGORIES = (
    "flight_controller", "radio", "data_transmission", "camera", "gimbal",
    "ground_control_system", "operating_software", "network_connectivity", "data_storage",
    "gnss", "thermal_imager", "motor", "battery", "frame", "propeller", "other",
)


@dataclass(frozen=True, slots=True)
class Party:
    kind: ClassVar[str] = "party"
    party_id: str
    name: str
    party_kind: str
    country: str
    identifier: str | None = None

    @property
    def key(self) -> str:
        return self.party_id

    def document(self) -> dict[str, Any]:
        return {"party_id": self.party_id, "name": self.name, "kind": self.party_kind,
                "country": self.country, "identifier": self.identifier}


@dataclass(frozen=True, slots=True)
class Product:
    kind: ClassVar[str] = "product"
    product_id: str
    supplier_id: str
    name: str
    category: str
    unit_price: int  # minor units of `currency`
    currency: str
    monthly_capacity: int
    nsn: str | None = None

    @property
    def key(self) -> str:
        return self.product_id

    def document(self) -> dict[str, Any]:
        return {"product_id": self.product_id, "supplier_id": self.supplier_id,
                "name": self.name, "category": self.category,
                "unit_price": format_amount(self.unit_price, self.currency),
                "currency": self.currency, "monthly_capacity": self.monthly_capacity,
                "nsn": self.nsn}


@dataclass(frozen=True, slots=True)
class BomLine:
    kind: ClassVar[str] = "bom_line"
    product_id: str
    part_number: str
    component_category: str
    manufacturer: str
    manufacturer_country: str
    origin_country: str
    quantity: int

    @property
    def key(self) -> str:
        return f"{self.product_id}/{self.part_number}"

    def document(self) -> dict[str, Any]:
        return {"product_id": self.product_id, "part_number": self.part_number,
                "component_category": self.component_category,
                "manufacturer": self.manufacturer,
                "manufacturer_country": self.manufacturer_country,
                "origin_country": self.origin_country, "quantity": self.quantity}


@dataclass(frozen=True, slots=True)
class Flow:
    flow_id: str
    buyer_id: str
    end_user_id: str
    seller_country: str
    license_required: bool
    categories: tuple[str, ...]
    rulesets: tuple[str, ...]

    def document(self) -> dict[str, Any]:
        return {"flow_id": self.flow_id, "buyer_id": self.buyer_id,
                "end_user_id": self.end_user_id, "seller_country": self.seller_country,
                "license_required": self.license_required,
                "categories": list(self.categories), "rulesets": list(self.rulesets)}

    def admits(self, category: str) -> bool:
        """Whether a product category is traded in this flow (`uas.*` and `*` patterns)."""
        for pattern in self.categories:
            if pattern in ("*", category):
                return True
            if pattern.endswith(".*") and category.startswith(pattern[:-1]):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Contribution:
    flow_id: str
    payer_id: str
    share: Decimal

    def document(self) -> dict[str, Any]:
        return {"flow_id": self.flow_id, "payer_id": self.payer_id,
                "share": decimal_text(self.share)}


@dataclass(frozen=True, slots=True)
class Fund:
    party_id: str
    contributions: tuple[Contribution, ...]

    def document(self) -> dict[str, Any]:
        return {"party_id": self.party_id,
                "contributions": [c.document() for c in self.contributions]}


@dataclass(frozen=True, slots=True)
class Reciprocity:
    numerator_flow: str
    denominator_flow: str
    min_ratio: Decimal

    def document(self) -> dict[str, Any]:
        return {"numerator_flow": self.numerator_flow,
                "denominator_flow": self.denominator_flow,
                "min_ratio": decimal_text(self.min_ratio)}


@dataclass(frozen=True, slots=True)
class Agreement:
    kind: ClassVar[str] = "agreement"
    agreement_id: str
    title: str
    currency: str
    ceiling: int  # minor units of `currency`
    signed_on: dt.date
    ends_on: dt.date
    flows: tuple[Flow, ...]
    fund: Fund | None = None
    reciprocity: Reciprocity | None = None

    @property
    def key(self) -> str:
        return self.agreement_id

    def flow(self, flow_id: str) -> Flow | None:
        return next((f for f in self.flows if f.flow_id == flow_id), None)

    def document(self) -> dict[str, Any]:
        return {"agreement_id": self.agreement_id, "title": self.title,
                "currency": self.currency,
                "ceiling": format_amount(self.ceiling, self.currency),
                "signed_on": self.signed_on.isoformat(), "ends_on": self.ends_on.isoformat(),
                "flows": [f.document() for f in self.flows],
                "fund": self.fund.document() if self.fund else None,
                "reciprocity": self.reciprocity.document() if self.reciprocity else None}


@dataclass(frozen=True, slots=True)
class Order:
    kind: ClassVar[str] = "order"
    order_id: str
    agreement_id: str
    flow_id: str
    buyer_id: str
    supplier_id: str
    product_id: str
    quantity: int
    unit_price: int  # minor units of `currency`
    currency: str
    due_on: dt.date

    @property
    def key(self) -> str:
        return self.order_id

    def document(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "agreement_id": self.agreement_id,
                "flow_id": self.flow_id, "buyer_id": self.buyer_id,
                "supplier_id": self.supplier_id, "product_id": self.product_id,
                "quantity": self.quantity,
                "unit_price": format_amount(self.unit_price, self.currency),
                "currency": self.currency, "due_on": self.due_on.isoformat()}


@dataclass(frozen=True, slots=True)
class License:
    kind: ClassVar[str] = "license"
    license_id: str
    authority_country: str
    exporter_id: str
    end_user_id: str
    product_id: str
    max_quantity: int
    max_value: int  # minor units of `currency`
    currency: str
    valid_from: dt.date
    valid_to: dt.date

    @property
    def key(self) -> str:
        return self.license_id

    def document(self) -> dict[str, Any]:
        return {"license_id": self.license_id, "authority_country": self.authority_country,
                "exporter_id": self.exporter_id, "end_user_id": self.end_user_id,
                "product_id": self.product_id, "max_quantity": self.max_quantity,
                "max_value": format_amount(self.max_value, self.currency),
                "currency": self.currency, "valid_from": self.valid_from.isoformat(),
                "valid_to": self.valid_to.isoformat()}


@dataclass(frozen=True, slots=True)
class FxRate:
    """1 `base` = `rate` `quote` from `date` on (the latest rate on or before a date applies)."""

    kind: ClassVar[str] = "fx_rate"
    date: dt.date
    base: str
    quote: str
    rate: Decimal

    @property
    def key(self) -> str:
        return f"{self.date.isoformat()}/{self.base}/{self.quote}"

    def document(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "base": self.base, "quote": self.quote,
                "rate": decimal_text(self.rate)}


MasterRecord = Party | Product | BomLine | Agreement | Order | License | FxRate
