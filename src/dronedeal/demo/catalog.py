"""The demo catalog: parties, products and their bills of materials.

Ukrainian makers sell drones and the kit around them; fictional US primes sell the
weapons that flow back. About 8% of the products carry a component that the US rules
block (a CN camera, a DJI radio, a board made in CN, telemetry stored in RU, ...), and a
few more carry CN parts that §848's hardware list does not cover (gnss, motor,
battery): the cases a compliance officer has to read twice. Prices are integer minor
units from the start; nothing here is a float.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from dronedeal.core.iso import COUNTRIES, CURRENCY_DIGITS
from dronedeal.core.records import (
    COMPONENT_CATEGORIES,
    PARTY_KINDS,
    PRODUCT_CATEGORIES,
    BomLine,
    Party,
    Product,
)
from dronedeal.demo import names
from dronedeal.demo.scale import Scale

#: Countries and entities of the US rules (FY2020 NDAA §848, American Security Drone Act).
US_COVERED_COUNTRIES = frozenset({"CN", "RU", "IR", "KP"})
US_COVERED_ENTITIES = ("dji", "autel robotics")
#: Origins that EU sanctions bar; the European flows order nothing with parts from them.
EU_SANCTIONED_COUNTRIES = frozenset({"RU", "BY", "IR", "KP"})

DRONE_CATEGORIES = ("uas.small", "uas.tactical", "uas.long_range", "uas.interceptor", "usv",
                    "ugv")
UA_CATEGORIES = (*DRONE_CATEGORIES, "cuas", "ew", "training", "tech_transfer", "other")
US_CATEGORIES = ("air_defense", "munition", "vehicle", "training", "other")

# What a Ukrainian maker concentrates on; its products are drawn from these categories,
# the first one most often. Together they cover every Ukrainian category.
_PROFILES: tuple[tuple[str, ...], ...] = (
    ("uas.small", "uas.interceptor", "training"),
    ("uas.interceptor", "cuas", "uas.small"),
    ("uas.tactical", "uas.small", "training"),
    ("uas.long_range", "uas.tactical", "tech_transfer"),
    ("usv", "training", "other"),
    ("ugv", "other", "uas.small"),
    ("ew", "cuas", "other"),
    ("uas.small", "uas.tactical", "tech_transfer"),
)
_PROFILE_WEIGHTS = (30, 14, 14, 8, 5, 8, 9, 12)


@dataclass(frozen=True, slots=True)
class _Line:
    """Price and capacity bands of a Ukrainian product category (USD, whole dollars)."""

    usd_low: int
    usd_high: int
    capacity_low: int
    capacity_high: int
    nsn_class: str | None  # federal supply class when the item is catalogued


_UA_LINES: dict[str, _Line] = {
    "uas.small": _Line(350, 900, 1_000, 12_000, "1550"),
    "uas.tactical": _Line(15_000, 120_000, 10, 150, "1550"),
    "uas.long_range": _Line(150_000, 400_000, 4, 40, "1550"),
    "uas.interceptor": _Line(2_500, 6_000, 300, 3_000, "1550"),
    "usv": _Line(180_000, 320_000, 2, 15, "1940"),
    "ugv": _Line(8_000, 45_000, 20, 200, "2355"),
    "cuas": _Line(40_000, 600_000, 4, 40, "5840"),
    "ew": _Line(3_000, 90_000, 20, 1_500, "5865"),
    "training": _Line(20_000, 250_000, 1, 8, "6910"),
    "tech_transfer": _Line(500_000, 5_000_000, 1, 1, None),
    "other": _Line(1_000, 20_000, 50, 1_000, "4920"),
}

# Bills of materials: the lines every product of a category has, then optional ones.
_BOM_CORE: dict[str, tuple[str, ...]] = {
    "uas.small": ("flight_controller", "radio", "camera", "motor", "battery", "frame",
                  "propeller"),
    "uas.interceptor": ("flight_controller", "radio", "camera", "motor", "battery", "frame",
                        "propeller"),
    "uas.tactical": ("flight_controller", "radio", "data_transmission", "camera", "gimbal",
                     "motor", "battery", "frame"),
    "uas.long_range": ("flight_controller", "radio", "gnss", "motor", "frame",
                       "operating_software"),
    "usv": ("flight_controller", "radio", "data_transmission", "camera", "gnss", "motor",
            "battery", "frame"),
    "ugv": ("flight_controller", "radio", "camera", "motor", "battery", "frame"),
    "cuas": ("radio", "operating_software", "frame", "battery"),
    "ew": ("radio", "operating_software", "battery", "frame"),
}
_BOM_OPTIONAL: dict[str, tuple[str, ...]] = {
    "uas.small": ("data_transmission", "gnss", "thermal_imager", "operating_software"),
    "uas.interceptor": ("thermal_imager", "data_transmission", "gnss", "operating_software"),
    "uas.tactical": ("gnss", "thermal_imager", "ground_control_system", "operating_software",
                     "data_storage", "propeller"),
    "uas.long_range": ("data_transmission", "camera", "battery", "propeller",
                       "ground_control_system", "data_storage", "network_connectivity"),
    "usv": ("thermal_imager", "network_connectivity", "ground_control_system",
            "operating_software"),
    "ugv": ("data_transmission", "gnss", "ground_control_system", "operating_software",
            "thermal_imager", "other"),
    "cuas": ("gnss", "data_storage", "network_connectivity", "camera", "thermal_imager",
             "other"),
    "ew": ("gnss", "data_transmission", "other"),
}
_BOM_MAX_LINES = 12
_MOTORS = {"uas.small": 4, "uas.interceptor": 4, "uas.tactical": 4, "uas.long_range": 1,
           "usv": 2, "ugv": 4}
# Components a maker often makes in house rather than buys.
_IN_HOUSE = ("frame", "operating_software", "ground_control_system", "other")

_FLAGGED_SHARE = 0.08
_EDGE_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class Catalog:
    """Parties, products and BOM lines of a demo deal, plus what the generator planted."""

    parties: tuple[Party, ...]
    products: tuple[Product, ...]
    bom: tuple[BomLine, ...]
    #: products with a component that the US rules block (§848 or the entity list)
    flagged: frozenset[str]
    #: products whose only CN parts are outside §848's hardware list
    edge_cases: frozenset[str]

    def manufacturers(self, country: str) -> tuple[Party, ...]:
        return tuple(p for p in self.parties
                     if p.party_kind == "manufacturer" and p.country == country)


# Public bodies. The fund gets country US: under the 2025 agreement the US International
# Development Finance Corporation is its managing partner. Parties of kind `fund` are
# left out of country netting (SPEC §5), so this choice moves no country's net position.
_PUBLIC_PARTIES = (
    Party("us-dod", "United States Department of Defense", "agency", "US"),
    Party("ua-mod", "Ministry of Defence of Ukraine", "agency", "UA"),
    Party("dk-mod", "Danish Ministry of Defence", "agency", "DK"),
    Party("no-mod", "Norwegian Ministry of Defence", "agency", "NO"),
    Party("ua-dsec", "State Service for Export Control of Ukraine", "agency", "UA"),
    Party("urif", "US-Ukraine Reconstruction Investment Fund", "fund", "US"),
    Party("ua-accounting-chamber", "Accounting Chamber of Ukraine", "auditor", "UA"),
    Party("us-dod-oig", "Office of Inspector General, U.S. Department of Defense", "auditor",
          "US"),
)


def build_catalog(rng: random.Random, scale: Scale) -> Catalog:
    """The parties, products and BOMs of a demo deal of `scale`, drawn from `rng`."""
    ua_makers: list[Party] = []
    prefixes: dict[str, str] = {}
    for i, (name, prefix) in enumerate(names.ukrainian_makers(rng, scale.ua_manufacturers), 1):
        # `identifier` is the maker's EDRPOU registration code (eight digits, invented).
        maker = Party(f"ua-mfr-{i:03d}", name, "manufacturer", "UA",
                      identifier=f"{rng.randint(10_000_000, 45_999_999)}")
        ua_makers.append(maker)
        prefixes[maker.party_id] = prefix
    us_primes = [
        Party(f"us-mfr-{i:03d}", name, "manufacturer", "US", identifier=_cage_code(rng))
        for i, (name, _lines) in enumerate(names.US_PRIMES, 1)
    ]
    parties = (*_PUBLIC_PARTIES, *ua_makers, *us_primes)

    specs = _ua_product_specs(rng, ua_makers, scale.ua_products)
    specs += _us_product_specs(us_primes, scale.us_products)
    drone_indexes = [i for i, (_s, category) in enumerate(specs) if category.startswith("uas.")]
    n_flagged = round(_FLAGGED_SHARE * len(specs))
    picked = rng.sample(drone_indexes, n_flagged + max(3, round(_EDGE_SHARE * len(specs))))
    flag_of = {index: names.FLAGGED_COMPONENTS[k % len(names.FLAGGED_COMPONENTS)]
               for k, index in enumerate(sorted(picked[:n_flagged]))}
    edge_indexes = set(picked[n_flagged:])

    products: list[Product] = []
    bom: list[BomLine] = []
    used_names: set[str] = set()
    for index, (supplier, category) in enumerate(specs):
        product_id = f"prd-{index + 1:04d}"
        if supplier.country == "UA":
            product = _ua_product(rng, product_id=product_id, supplier=supplier,
                                  category=category, prefix=prefixes[supplier.party_id],
                                  used_names=used_names)
        else:
            product = _us_product(rng, product_id=product_id, supplier=supplier,
                                  category=category, used_names=used_names)
        products.append(product)
        if category in _BOM_CORE:
            bom += _bill_of_materials(rng, product, supplier, flag=flag_of.get(index),
                                      edge=index in edge_indexes)

    catalog = Catalog(parties=parties, products=tuple(products), bom=tuple(bom),
                      flagged=frozenset(products[i].product_id for i in flag_of),
                      edge_cases=frozenset(products[i].product_id for i in edge_indexes))
    _check(catalog)
    return catalog


def _cage_code(rng: random.Random) -> str:
    """A CAGE-like code: five characters, digits and letters (no I or O)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return str(rng.randint(1, 9)) + "".join(rng.choice(alphabet) for _ in range(4))


def _ua_product_specs(rng: random.Random, makers: Sequence[Party],
                      count: int) -> list[tuple[Party, str]]:
    """(supplier, category) of every Ukrainian product: each maker one or more, all categories."""
    assert count >= len(makers), "every Ukrainian maker offers at least one product"
    profiles = [_PROFILES[i] if i < len(_PROFILES) else
                rng.choices(_PROFILES, weights=_PROFILE_WEIGHTS)[0] for i in range(len(makers))]
    per_maker = [1] * len(makers)
    for _ in range(count - len(makers)):
        per_maker[rng.randrange(len(makers))] += 1
    specs: list[tuple[Party, str]] = []
    for maker, profile, n in zip(makers, profiles, per_maker, strict=True):
        for k in range(n):
            category = profile[0] if k == 0 else rng.choices(profile, (5, 3, 2))[0]
            specs.append((maker, category))
    # The draws may leave a category out: move a product of a maker with several into it,
    # taken from a category that keeps others.
    for category in UA_CATEGORIES:
        if any(c == category for _m, c in specs):
            continue
        per_supplier = Counter(m.party_id for m, _c in specs)
        per_category = Counter(c for _m, c in specs)
        index = next(i for i, (m, c) in enumerate(specs)
                     if per_supplier[m.party_id] > 1 and per_category[c] > 1)
        specs[index] = (specs[index][0], category)
    assert {c for _m, c in specs} == set(UA_CATEGORIES)
    return specs


def _us_product_specs(primes: Sequence[Party], count: int) -> list[tuple[Party, str]]:
    """(supplier, category) of every US product: each prime sells its own lines."""
    specs: list[tuple[Party, str]] = []
    for k in range(count):
        prime = primes[k % len(primes)]
        lines = dict(names.US_PRIMES)[prime.name]
        specs.append((prime, lines[(k // len(primes)) % len(lines)]))
    return specs


def _ua_product(rng: random.Random, *, product_id: str, supplier: Party, category: str,
                prefix: str, used_names: set[str]) -> Product:
    line = _UA_LINES[category]
    usd = rng.randint(line.usd_low, line.usd_high)
    currency = rng.choices(("USD", "UAH", "EUR"), weights=(6, 3, 1))[0]
    if category in ("tech_transfer", "training"):
        currency = "USD" if currency == "UAH" else currency
    kind = rng.choice(names.UA_PRODUCT_LINES[category])
    name = _unique(f"{prefix}-{rng.randint(2, 99)} {kind}", used_names)
    capacity = _nice(rng.randint(line.capacity_low, line.capacity_high))
    nsn = None
    if line.nsn_class and rng.random() < 0.3:
        nsn = _nsn(rng, line.nsn_class)
    return Product(product_id=product_id, supplier_id=supplier.party_id, name=name,
                   category=category, unit_price=_price(rng, usd, currency), currency=currency,
                   monthly_capacity=capacity, nsn=nsn)


def _us_product(rng: random.Random, *, product_id: str, supplier: Party, category: str,
                used_names: set[str]) -> Product:
    lines = [line for line in names.US_PRODUCT_LINES if line[0] == category]
    _c, kind, usd_low, usd_high, cap_low, cap_high, nsn_class = rng.choice(lines)
    name = _unique(kind, used_names)
    nsn = _nsn(rng, nsn_class) if rng.random() < 0.85 else None
    return Product(product_id=product_id, supplier_id=supplier.party_id, name=name,
                   category=category, unit_price=_price(rng, rng.randint(usd_low, usd_high), "USD"),
                   currency="USD", monthly_capacity=_nice(rng.randint(cap_low, cap_high)),
                   nsn=nsn)


def _unique(name: str, used: set[str]) -> str:
    """`name`, or `name, variant 2` (3, ...) when a product of that name exists."""
    candidate, variant = name, 1
    while candidate in used:
        variant += 1
        candidate = f"{name}, variant {variant}"
    used.add(candidate)
    return candidate


def _nice(quantity: int) -> int:
    """Round a capacity the way a maker states it: to tens above 100, hundreds above 1,000."""
    if quantity >= 1_000:
        return quantity // 100 * 100
    if quantity >= 100:
        return quantity // 10 * 10
    return quantity


# Typical price levels used only to quote a dollar band in hryvnias or euros.
_QUOTE_PER_USD = {"USD": (1, 1), "UAH": (415, 10), "EUR": (90, 100)}


def _price(rng: random.Random, usd: int, currency: str) -> int:
    """A price in minor units of `currency` for about `usd` dollars, rounded as sellers do."""
    numerator, denominator = _QUOTE_PER_USD[currency]
    major = usd * numerator // denominator
    step = 5 if major < 1_000 else 10 if major < 10_000 else 100 if major < 1_000_000 else 1_000
    major = max(step, major // step * step)
    cents = 0
    if currency != "UAH" and major < 10_000 and rng.random() < 0.2:
        cents = rng.choice((50, 90, 99))
    minor: int = major * 10 ** CURRENCY_DIGITS[currency] + cents
    assert minor > 0
    return minor


def _nsn(rng: random.Random, supply_class: str) -> str:
    """A NATO stock number shaped `1550-01-234-5678` (class, bureau 01, item number)."""
    return f"{supply_class}-01-{rng.randint(100, 999)}-{rng.randint(0, 9999):04d}"


def _bill_of_materials(rng: random.Random, product: Product, supplier: Party, *,
                       flag: tuple[str, str, str, str, str] | None,
                       edge: bool) -> list[BomLine]:
    """6-12 lines for a drone (4-8 for cuas and ew), with any planted flag or edge case."""
    category = product.category
    optional = _BOM_OPTIONAL[category]
    extra = rng.randint(0, min(len(optional), _BOM_MAX_LINES - len(_BOM_CORE[category])))
    components = list(_BOM_CORE[category]) + rng.sample(optional, extra)
    overrides: dict[str, tuple[str, str, str]] = {}
    if flag is not None:
        flag_category, maker, domicile, origin, _why = flag
        overrides[flag_category] = (maker, domicile, origin)
    if edge:
        for edge_category, maker, domicile, origin in rng.sample(names.EDGE_COMPONENTS,
                                                                 rng.randint(1, 3)):
            overrides[edge_category] = (maker, domicile, origin)
    for needed in overrides:
        if needed not in components:
            if len(components) >= _BOM_MAX_LINES:
                components.pop()
            components.append(needed)

    lines = []
    for number, component in enumerate(components, 1):
        if component in overrides:
            maker, domicile, origin = overrides[component]
        elif component in _IN_HOUSE and rng.random() < 0.5:
            maker, domicile, origin = supplier.name, "UA", "UA"
        else:
            maker, domicile, origin = rng.choice(names.CLEAN_MAKERS[component])
        quantity = 1
        if component in ("motor", "propeller"):
            quantity = _MOTORS.get(category, 1)
        elif component == "battery" and category in ("uas.tactical", "usv", "ugv"):
            quantity = 2
        part = f"{names.PART_CODES[component]}-{rng.randint(100, 999)}-{number:02d}"
        lines.append(BomLine(product_id=product.product_id, part_number=part,
                             component_category=component, manufacturer=maker,
                             manufacturer_country=domicile, origin_country=origin,
                             quantity=quantity))
    return lines


def component_countries(lines: Sequence[BomLine]) -> frozenset[str]:
    """Every country a product's components come from, by domicile or by origin."""
    return frozenset(c for line in lines for c in (line.manufacturer_country, line.origin_country))


def by_covered_entity(lines: Sequence[BomLine]) -> bool:
    """Whether a component is made by an entity the US rules name (DJI, Autel Robotics)."""
    return any(entity in line.manufacturer.lower() for line in lines
               for entity in US_COVERED_ENTITIES)


def _check(catalog: Catalog) -> None:
    """Assert what the demo promises: vocabularies, references, unique part numbers."""
    party_ids = {p.party_id for p in catalog.parties}
    assert len(party_ids) == len(catalog.parties), "party ids are unique"
    assert all(p.party_kind in PARTY_KINDS and p.country in COUNTRIES for p in catalog.parties)
    assert {p.category for p in catalog.products} == set(PRODUCT_CATEGORIES)
    assert all(p.supplier_id in party_ids for p in catalog.products)
    product_ids = {p.product_id for p in catalog.products}
    parts = {(line.product_id, line.part_number) for line in catalog.bom}
    assert len(parts) == len(catalog.bom), "part numbers are unique within a product"
    for line in catalog.bom:
        assert line.product_id in product_ids
        assert line.component_category in COMPONENT_CATEGORIES
        assert line.manufacturer_country in COUNTRIES
        assert line.origin_country in COUNTRIES
