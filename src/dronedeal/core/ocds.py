"""An agreement as an OCDS 1.1 release package, with a redaction policy applied.

The mapping (docs/publication.md has the table): the agreement is the first stage of a
framework agreement procedure, a contracting process of its own ocid with
`tender.techniques.hasFrameworkAgreement`; each order and each purchase case is a
second-stage (call-off) process of its own ocid, linked to the agreement through
`relatedProcesses` (scheme `ocid`, relationship `framework`), with its tender, award and
contract; shipped and inspected lots (per lot and date) and case deliveries are the
contract's `implementation.milestones`; payments are `implementation.transactions` of
the agreement's per-flow contracts (a payment pays the flow whose buyer pays a
non-fund party of its seller country, the rule of the position report; the rest go to
an agreement-level contract).

Invariants kept here:

- redaction happens while the package is built, never by editing a built one: a
  withheld value is never put into the package, and every field withheld in a release
  is declared in that release's `withheldInformation` (field, rationale, availability);
- a withheld party appears only as its pseudonym: HMAC-SHA256 of its id under the
  publication salt, truncated (`manufacturer-3f9a…`); same salt and id, same pseudonym;
- a release's id is `<stage>-<date>-<hash>`, the hash over its content, so the same data
  always gives the same id and changed data a new one (ocdskit compiles them by ocid);
- amounts are `Decimal`s with exactly the currency's minor digits, never floats;
  `dumps` writes them as JSON numbers digit for digit.

Standard library only; no I/O.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from dronedeal.core.fx import RateTable
from dronedeal.core.money import to_decimal
from dronedeal.core.records import Agreement, Order, Party, Product

OCDS_VERSION: Final = "1.1"
TECHNIQUES_EXTENSION: Final = (
    "https://raw.githubusercontent.com/open-contracting-extensions/"
    "ocds_techniques_extension/master/extension.json")
WITHHELD_INFORMATION_EXTENSION: Final = (
    "https://raw.githubusercontent.com/open-contracting-extensions/"
    "ocds_withheldInformation_extension/master/extension.json")

AUDIENCES: Final = ("public", "auditor")
SERIAL_NUMBERS: Final = "serial_numbers"
UNIT_PRICES: Final = "unit_prices"
MANUFACTURER_IDENTITY: Final = "manufacturer_identity"
#: what a policy can withhold
CATEGORIES: Final = (SERIAL_NUMBERS, UNIT_PRICES, MANUFACTURER_IDENTITY)
MANUFACTURER_KIND: Final = "manufacturer"
FUND_KIND: Final = "fund"
#: hex digits of the HMAC kept in a pseudonym (48 bits)
PSEUDONYM_HEX: Final = 12
CLASSIFICATION_SCHEME: Final = "x_dronedeal_category"


class PolicyError(ValueError):
    """A publication policy that cannot be applied; the message says what to fix."""


# --- policy -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Withholding:
    """One category withheld from an audience, with the reason and when it may be published."""

    category: str
    rationale: str
    #: a fixed date on which the information will be published
    availability_date: dt.date | None = None
    #: or: this many years after the agreement's `ends_on`
    years_after_agreement_end: int | None = None
    #: party ids exempt from `manufacturer_identity` (their makers agreed to be named)
    exceptions: frozenset[str] = frozenset()

    def available_on(self, agreement: Agreement) -> dt.date | None:
        if self.availability_date is not None:
            return self.availability_date
        if self.years_after_agreement_end is not None:
            end = agreement.ends_on
            year = end.year + self.years_after_agreement_end
            return end.replace(year=year, day=28) if (end.month, end.day) == (2, 29) \
                else end.replace(year=year)
        return None


@dataclass(frozen=True, slots=True)
class Policy:
    """What each audience is shown; `withhold[audience][category]`."""

    policy_id: str
    withhold: Mapping[str, Mapping[str, Withholding]]
    #: the package's `publicationPolicy` and `license` URIs
    publication_policy_uri: str | None = None
    license_uri: str | None = None

    def rules(self, audience: str) -> Mapping[str, Withholding]:
        if audience not in self.withhold:
            raise PolicyError(f"policy {self.policy_id} has no audience {audience!r}; "
                              f"it knows {', '.join(sorted(self.withhold))}")
        return self.withhold[audience]


def parse_policy(document: Any, source: str) -> Policy:
    """A policy from its YAML/JSON document; raises PolicyError naming `source`."""
    def fail(message: str) -> PolicyError:
        return PolicyError(f"{source}: {message}")

    if not isinstance(document, dict):
        raise fail("a policy is a mapping with `policy_id` and `audiences`")
    unknown = set(document) - {"policy_id", "publication_policy_uri", "license_uri",
                               "audiences"}
    if unknown:
        raise fail(f"unknown key(s) {', '.join(sorted(unknown))}")
    policy_id = document.get("policy_id")
    audiences = document.get("audiences")
    if not isinstance(policy_id, str) or not policy_id:
        raise fail("`policy_id` must be a non-empty string")
    if not isinstance(audiences, dict) or set(audiences) != set(AUDIENCES):
        raise fail(f"`audiences` must list exactly {' and '.join(AUDIENCES)}")
    withhold: dict[str, dict[str, Withholding]] = {}
    for audience, body in audiences.items():
        if body is not None and (not isinstance(body, dict) or set(body) - {"withhold"}):
            raise fail(f"audience {audience}: only `withhold` may be given")
        entries = (body or {}).get("withhold") or {}
        if not isinstance(entries, dict):
            raise fail(f"audience {audience}: `withhold` maps categories to rules")
        withhold[audience] = {}
        for category, rule in entries.items():
            where = f"audiences.{audience}.withhold.{category}"
            if category not in CATEGORIES:
                raise fail(f"{where}: unknown category; use one of {', '.join(CATEGORIES)}")
            withhold[audience][category] = _withholding(category, rule, fail, where)
    uris = {k: document.get(k) for k in ("publication_policy_uri", "license_uri")}
    for key, value in uris.items():
        if value is not None and not isinstance(value, str):
            raise fail(f"`{key}` must be a URI string")
    return Policy(policy_id, withhold, uris["publication_policy_uri"], uris["license_uri"])


def _withholding(category: str, rule: Any, fail: Any, where: str) -> Withholding:
    if not isinstance(rule, dict):
        raise fail(f"{where}: give at least a `rationale`")
    unknown = set(rule) - {"rationale", "availability_date", "years_after_agreement_end",
                           "exceptions"}
    if unknown:
        raise fail(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    rationale = rule.get("rationale")
    if not isinstance(rationale, str) or not rationale.strip():
        raise fail(f"{where}: `rationale` must say why, in a sentence")
    date = rule.get("availability_date")
    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date)
        except ValueError:
            raise fail(f"{where}: availability_date {date!r} is not YYYY-MM-DD") from None
    if date is not None and not isinstance(date, dt.date):
        raise fail(f"{where}: availability_date must be a date YYYY-MM-DD")
    years = rule.get("years_after_agreement_end")
    if years is not None and (not isinstance(years, int) or isinstance(years, bool)
                              or years < 0):
        raise fail(f"{where}: years_after_agreement_end must be a whole number ≥ 0")
    if date is not None and years is not None:
        raise fail(f"{where}: give availability_date or years_after_agreement_end, not both")
    exceptions = rule.get("exceptions") or []
    if not isinstance(exceptions, list) or not all(isinstance(e, str) for e in exceptions):
        raise fail(f"{where}: exceptions must be a list of party ids")
    if exceptions and category != MANUFACTURER_IDENTITY:
        raise fail(f"{where}: exceptions apply to {MANUFACTURER_IDENTITY} only")
    return Withholding(category, rationale.strip(), date, years, frozenset(exceptions))


def pseudonym(salt: bytes, kind: str, identifier: str) -> str:
    """`<kind>-<12 hex>`: HMAC-SHA256 of `kind:identifier` under `salt`, truncated. It
    reveals neither the name nor the id without the salt, and is the same every time."""
    assert salt, "a pseudonym needs a non-empty secret salt"
    digest = hmac.new(salt, f"{kind}:{identifier}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}-{digest[:PSEUDONYM_HEX]}"


# --- the facts a package is built from ------------------------------------------------

@dataclass(frozen=True, slots=True)
class LotEvent:
    """Units of one lot of one order shipped or inspected on one date."""

    order_id: str
    lot_id: str
    on: dt.date
    #: `shipped` or `inspected`
    stage: str
    units: int
    accepted: int = 0
    rejected: int = 0
    #: the units' serials (loaded only when the audience may see them)
    serials: tuple[str, ...] = ()
    #: of an inspection: (serial, reason) of each rejected unit, when serials are loaded
    rejections: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class CaseLine:
    line: int
    description: str
    category: str
    quantity: int
    unit_price: int
    currency: str


@dataclass(frozen=True, slots=True)
class CaseDelivery:
    delivery_id: str
    line: int
    quantity: int
    delivered_on: dt.date


@dataclass(frozen=True, slots=True)
class Case:
    """A purchase case (e.g. an FMS letter of offer) with its lines and deliveries."""

    case_id: str
    flow_id: str
    seller_id: str
    buyer_id: str
    lines: tuple[CaseLine, ...]
    deliveries: tuple[CaseDelivery, ...] = ()


@dataclass(frozen=True, slots=True)
class Payment:
    payment_id: str
    payer_id: str
    payee_id: str
    amount: int
    currency: str
    paid_on: dt.date
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Deal:
    """Everything published about one agreement."""

    agreement: Agreement
    parties: Mapping[str, Party]
    products: Mapping[str, Product]
    orders: Sequence[Order]
    lots: Mapping[str, Sequence[LotEvent]] = field(default_factory=dict)
    cases: Sequence[Case] = ()
    payments: Sequence[Payment] = ()
    #: the rates that convert order values into the agreement currency
    rates: RateTable = field(default_factory=RateTable)


@dataclass(frozen=True, slots=True)
class Publisher:
    """Package metadata: who publishes, under which ocid prefix, at which URI."""

    name: str
    ocid_prefix: str
    uri: str
    published: dt.datetime


def payment_flow(agreement: Agreement, payment: Payment,
                 parties: Mapping[str, Party]) -> str | None:
    """The flow a payment pays (its buyer pays a non-fund party of its seller country,
    as the position report counts `paid`), or None."""
    payee = parties.get(payment.payee_id)
    if payee is None or payee.party_kind == FUND_KIND:
        return None
    for flow in agreement.flows:
        if payment.payer_id == flow.buyer_id and payee.country == flow.seller_country:
            return flow.flow_id
    return None


# --- redaction --------------------------------------------------------------------------

class Redaction:
    """An audience's view: which party is hidden, how things are named, what was withheld.

    `withheld()` drains the declarations collected since the last call, for one release.
    """

    def __init__(self, rules: Mapping[str, Withholding], salt: bytes, deal: Deal) -> None:
        self._rules = rules
        self._salt = salt
        self._deal = deal
        self._pending: dict[str, dict[str, Any]] = {}
        if rules:
            assert salt, "withholding needs the publication salt for pseudonyms"

    def withholds(self, category: str) -> bool:
        return category in self._rules

    def hides_party(self, party_id: str) -> bool:
        rule = self._rules.get(MANUFACTURER_IDENTITY)
        party = self._deal.parties.get(party_id)
        return (rule is not None and party_id not in rule.exceptions
                and (party is None or party.party_kind == MANUFACTURER_KIND))

    def party_id(self, party_id: str) -> str:
        if not self.hides_party(party_id):
            return party_id
        return pseudonym(self._salt, MANUFACTURER_KIND, party_id)

    def party_reference(self, party_id: str) -> dict[str, Any]:
        party = self._deal.parties.get(party_id)
        shown = self.party_id(party_id)
        if self.hides_party(party_id):
            self.declare(MANUFACTURER_IDENTITY, "parties/name", f"Name of {shown}", shown)
            return {"id": shown, "name": shown}
        return {"id": shown, "name": party.name if party else party_id}

    def organization(self, party_id: str, roles: Iterable[str]) -> dict[str, Any]:
        party = self._deal.parties.get(party_id)
        org = self.party_reference(party_id)
        if party is not None:
            if not self.hides_party(party_id) and party.identifier:
                org["identifier"] = {"scheme": "x_dronedeal_identifier",
                                     "id": party.identifier, "legalName": party.name}
            elif party.identifier:
                self.declare(MANUFACTURER_IDENTITY, "parties/identifier",
                             f"Identifier of {org['id']}", org["id"])
            org["details"] = {"kind": party.party_kind, "country": party.country}
        org["roles"] = sorted(set(roles))
        return org

    def hides_maker_of(self, product_id: str) -> bool:
        product = self._deal.products.get(product_id)
        return self.hides_party(product.supplier_id if product else "")

    def product_item(self, product_id: str) -> tuple[str, str, str]:
        """(item id, description, category) of a product as this audience sees it: a
        product whose maker is hidden is named by its category and a pseudonym, since a
        brand names its maker."""
        product = self._deal.products.get(product_id)
        category = product.category if product else "other"
        if not self.hides_maker_of(product_id):
            return product_id, product.name if product else product_id, category
        shown = pseudonym(self._salt, "product", product_id)
        self.declare(MANUFACTURER_IDENTITY, "awards/items/description",
                     "Product names and ids (a brand names its maker)")
        self.declare(MANUFACTURER_IDENTITY, "contracts/items/description",
                     "Product names and ids (a brand names its maker)")
        return shown, f"{category} product {shown}", category

    def lot(self, lot_id: str, hidden: bool) -> str:
        if not hidden:
            return lot_id
        self.declare(MANUFACTURER_IDENTITY, "contracts/implementation/milestones/title",
                     "Lot identifiers (a maker's lot numbering names it)")
        return pseudonym(self._salt, "lot", lot_id)

    def declare(self, category: str, path: str, name: str, subject: str | None = None) -> None:
        rule = self._rules[category]
        item_id = f"{category}/{path}" + (f"/{subject}" if subject else "")
        if item_id in self._pending:
            return
        available = rule.available_on(self._deal.agreement)
        self._pending[item_id] = {
            "id": item_id, "field": path, "name": name, "rationale": rule.rationale,
            "availabilityDate": _timestamp(available) if available else None}

    def withheld(self) -> list[dict[str, Any]]:
        items = [self._pending[k] for k in sorted(self._pending)]
        self._pending = {}
        return items


# --- building -------------------------------------------------------------------------

def build_package(deal: Deal, redaction: Redaction, publisher: Publisher,
                  policy: Policy) -> dict[str, Any]:
    """The release package of `deal` as `redaction`'s audience sees it."""
    prefix = publisher.ocid_prefix
    framework_ocid = f"{prefix}-agreement-{deal.agreement.agreement_id}"
    releases = list(_framework_releases(deal, redaction, framework_ocid))
    for order in deal.orders:
        releases.extend(_order_releases(deal, redaction, order, framework_ocid,
                                        f"{prefix}-order-{order.order_id}"))
    for case in deal.cases:
        releases.extend(_case_releases(deal, redaction, case, framework_ocid,
                                       f"{prefix}-case-{case.case_id}"))
    extensions = [TECHNIQUES_EXTENSION]
    if any("withheldInformation" in release for release in releases):
        extensions.append(WITHHELD_INFORMATION_EXTENSION)
    package: dict[str, Any] = {
        "uri": publisher.uri,
        "version": OCDS_VERSION,
        "extensions": extensions,
        "publishedDate": publisher.published.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "publisher": {"name": publisher.name},
        "releases": releases,
    }
    if policy.license_uri:
        package["license"] = policy.license_uri
    if policy.publication_policy_uri:
        package["publicationPolicy"] = policy.publication_policy_uri
    return package


def _value(minor: int, currency: str) -> dict[str, Any]:
    return {"amount": to_decimal(minor, currency), "currency": currency}


def _timestamp(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _release(ocid: str, stage: str, tags: Sequence[str], on: dt.date,
             body: dict[str, Any], *, redaction: Redaction) -> dict[str, Any]:
    release: dict[str, Any] = {"ocid": ocid, "id": "", "date": _timestamp(on),
                               "tag": list(tags), "initiationType": "tender", **body}
    withheld = redaction.withheld()
    if withheld:
        release["withheldInformation"] = withheld
    digest = hashlib.sha256(dumps({**release, "id": None}).encode()).hexdigest()
    release["id"] = f"{stage}-{on.isoformat()}-{digest[:12]}"
    return release


def _roles(entries: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    roles: defaultdict[str, set[str]] = defaultdict(set)
    for party_id, role in entries:
        roles[party_id].add(role)
    return roles


def _parties(redaction: Redaction, roles: Mapping[str, set[str]]) -> list[dict[str, Any]]:
    orgs = [redaction.organization(party_id, r) for party_id, r in roles.items()]
    return sorted(orgs, key=lambda org: str(org["id"]))


def _framework_releases(deal: Deal, redaction: Redaction, ocid: str) -> Iterator[dict[str, Any]]:
    agreement = deal.agreement
    signed = agreement.signed_on
    suppliers: dict[str, set[str]] = {f.flow_id: set() for f in agreement.flows}
    for order in deal.orders:
        suppliers.setdefault(order.flow_id, set()).add(order.supplier_id)
    for case in deal.cases:
        suppliers.setdefault(case.flow_id, set()).add(case.seller_id)
    by_flow: dict[str | None, list[Payment]] = defaultdict(list)
    for payment in deal.payments:
        by_flow[payment_flow(agreement, payment, deal.parties)].append(payment)
    entries = [(f.buyer_id, "buyer") for f in agreement.flows]
    entries += [(s, "supplier") for ids in suppliers.values() for s in ids]
    if agreement.fund:
        entries.append((agreement.fund.party_id, "funder"))
    entries += [(p.payer_id, "payer") for p in deal.payments]
    entries += [(p.payee_id, "payee") for p in deal.payments]
    roles = _roles(entries)
    buyers = {f.buyer_id for f in agreement.flows}
    ordered = ordered_by_flow(deal)
    ceiling = _value(agreement.ceiling, agreement.currency)
    period = {"startDate": _timestamp(signed), "endDate": _timestamp(agreement.ends_on)}

    def common() -> dict[str, Any]:
        body: dict[str, Any] = {"parties": _parties(redaction, roles)}
        if len(buyers) == 1:
            body["buyer"] = redaction.party_reference(next(iter(buyers)))
        return body

    tender = {
        "id": agreement.agreement_id, "title": agreement.title, "status": "complete",
        "procurementMethod": "limited",
        "procurementMethodDetails": "Government-to-government framework agreement",
        "mainProcurementCategory": "goods",
        "value": ceiling, "maximumValue": ceiling, "contractPeriod": period,
        "techniques": {"hasFrameworkAgreement": True, "frameworkAgreement": {
            "method": "withoutReopeningCompetition", "value": ceiling, "period": period,
            "description": "Flows: " + "; ".join(
                f"{f.flow_id} (buyer {redaction.party_id(f.buyer_id)}, sellers of "
                f"{f.seller_country})" for f in agreement.flows)}},
    }
    yield _release(ocid, "tender", ["tender"], signed, {**common(), "tender": tender},
                   redaction=redaction)

    contract_ids = [f.flow_id for f in agreement.flows]
    if by_flow.get(None):
        contract_ids.append("agreement")
    awards = []
    for contract_id in contract_ids:
        award: dict[str, Any] = {"id": contract_id, "status": "active",
                                 "date": _timestamp(signed), "contractPeriod": period}
        if contract_id == "agreement":
            award["title"] = "Payments of the agreement not attributed to a flow"
        else:
            award["title"] = f"Framework agreement flow {contract_id}"
            refs = [redaction.party_reference(s) for s in sorted(suppliers[contract_id])]
            if refs:
                award["suppliers"] = sorted(refs, key=lambda r: str(r["id"]))
        awards.append(award)
    yield _release(ocid, "award", ["award"], signed, {**common(), "awards": awards},
                   redaction=redaction)

    contracts = [{"id": c, "awardID": c, "title": a["title"], "status": "active",
                  "period": period, "dateSigned": _timestamp(signed)}
                 for c, a in zip(contract_ids, awards, strict=True)]
    for award, contract in zip(awards, contracts, strict=True):
        if award["id"] in ordered:
            award["value"] = contract["value"] = _value(ordered[award["id"]],
                                                        agreement.currency)
    yield _release(ocid, "contract", ["contract"], signed,
                   {**common(), "contracts": contracts}, redaction=redaction)

    if deal.payments:
        implemented = []
        for contract_id in contract_ids:
            flow_key = None if contract_id == "agreement" else contract_id
            paid = sorted(by_flow.get(flow_key, ()), key=lambda p: p.payment_id)
            if paid:
                implemented.append({"id": contract_id, "awardID": contract_id,
                                    "implementation": {"transactions": _transactions(
                                        deal, redaction, contract_id, paid)}})
        last = max(p.paid_on for p in deal.payments)
        yield _release(ocid, "implementation", ["implementation"], last,
                       {**common(), "contracts": implemented}, redaction=redaction)


def _transactions(deal: Deal, redaction: Redaction, contract_id: str,
                  payments: Sequence[Payment]) -> list[dict[str, Any]]:
    """The payments of a contract as transactions. When unit prices are withheld, a single
    payment's amount is too (a payment for a delivery, or a fund share of an acceptance,
    gives the unit price away), and one transaction `total-<contract>` carries their sum
    in the agreement currency, each payment converted at its date's rate (SPEC §5)."""
    transactions = []
    for payment in payments:
        transaction = {"id": payment.payment_id, "date": _timestamp(payment.paid_on),
                       "payer": redaction.party_reference(payment.payer_id),
                       "payee": redaction.party_reference(payment.payee_id)}
        if redaction.withholds(UNIT_PRICES):
            redaction.declare(UNIT_PRICES, "contracts/implementation/transactions/value",
                              f"Amounts of single payments (their sum is transaction "
                              f"total-{contract_id})")
        else:
            transaction["value"] = _value(payment.amount, payment.currency)
        transactions.append(transaction)
    if redaction.withholds(UNIT_PRICES):
        agreement = deal.agreement
        total = sum(deal.rates.convert(p.amount, p.currency, agreement.currency, p.paid_on)
                    for p in payments)
        aggregate: dict[str, Any] = {
            "id": f"total-{contract_id}", "date": _timestamp(max(p.paid_on for p in payments)),
            "value": _value(total, agreement.currency)}
        payers = {p.payer_id for p in payments}
        if len(payers) == 1:
            aggregate["payer"] = redaction.party_reference(payers.pop())
        transactions.append(aggregate)
    return transactions


def ordered_by_flow(deal: Deal) -> dict[str, int]:
    """Ordered value of each flow in the agreement currency: each order's and case line's
    value converted at the rate on `signed_on`, rounded, then summed (SPEC §5); raises
    MissingRateError."""
    agreement = deal.agreement
    totals = {flow.flow_id: 0 for flow in agreement.flows}
    batches = [(o.flow_id, o.quantity * o.unit_price, o.currency) for o in deal.orders]
    batches += [(c.flow_id, line.quantity * line.unit_price, line.currency)
                for c in deal.cases for line in c.lines]
    for flow_id, value, currency in batches:
        totals[flow_id] = totals.get(flow_id, 0) + deal.rates.convert(
            value, currency, agreement.currency, agreement.signed_on)
    return totals


def _call_off_parties(redaction: Redaction, roles: Mapping[str, set[str]],
                      buyer_id: str) -> dict[str, Any]:
    """`parties` and `buyer` of a call-off release (built per release, so that the
    release declares what they withhold)."""
    return {"parties": _parties(redaction, roles),
            "buyer": redaction.party_reference(buyer_id)}


def _related(deal: Deal, framework_ocid: str) -> list[dict[str, Any]]:
    return [{"id": "framework", "relationship": ["framework"], "scheme": "ocid",
             "identifier": framework_ocid, "title": deal.agreement.title}]


def _call_off_tender(call_off_id: str, title: str) -> dict[str, Any]:
    return {"id": call_off_id, "title": title, "status": "complete",
            "procurementMethod": "limited", "competitive": False,
            "procurementMethodDetails": "Direct call-off under the framework agreement"}


def _item(redaction: Redaction, *, item_id: str, description: str, category: str,
          quantity: int, unit_price: int, currency: str) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "description": description,
                            "classification": {"scheme": CLASSIFICATION_SCHEME,
                                               "id": category},
                            "quantity": quantity, "unit": {"name": "unit"}}
    if redaction.withholds(UNIT_PRICES):
        redaction.declare(UNIT_PRICES, "awards/items/unit/value", "Unit prices")
        redaction.declare(UNIT_PRICES, "contracts/items/unit/value", "Unit prices")
    else:
        item["unit"]["value"] = _value(unit_price, currency)
    return item


def _call_off_value(redaction: Redaction, award: dict[str, Any], contract: dict[str, Any],
                    total: dict[str, Any]) -> None:
    """A call-off's value, unless unit prices are withheld: with the published quantity
    the total of a single-item call-off would give its unit price away. The flow totals
    of the framework contracts stay published."""
    if redaction.withholds(UNIT_PRICES):
        for path in ("awards/value", "contracts/value"):
            redaction.declare(UNIT_PRICES, path,
                              "Call-off values (with the quantity they give the unit price)")
        return
    award["value"] = contract["value"] = total


def _order_releases(deal: Deal, redaction: Redaction, order: Order, framework_ocid: str,
                    ocid: str) -> Iterator[dict[str, Any]]:
    signed = deal.agreement.signed_on
    roles = _roles([(order.buyer_id, "buyer"), (order.supplier_id, "supplier")])
    item_id, description, category = redaction.product_item(order.product_id)
    item = _item(redaction, item_id=item_id, description=description, category=category,
                 quantity=order.quantity, unit_price=order.unit_price, currency=order.currency)
    title = f"Order {order.order_id}: {order.quantity} × {description}"
    period = {"startDate": _timestamp(signed), "endDate": _timestamp(order.due_on)}
    award: dict[str, Any] = {"id": order.order_id, "title": title, "status": "active",
                             "date": _timestamp(signed),
                             "suppliers": [redaction.party_reference(order.supplier_id)],
                             "items": [item], "contractPeriod": period}
    contract: dict[str, Any] = {"id": order.order_id, "awardID": order.order_id,
                                "title": title, "status": "active", "items": [item],
                                "period": period, "dateSigned": _timestamp(signed)}
    _call_off_value(redaction, award, contract,
                    _value(order.quantity * order.unit_price, order.currency))
    yield _release(ocid, "contract", ["award", "contract"], signed, {
        **_call_off_parties(redaction, roles, order.buyer_id),
        "relatedProcesses": _related(deal, framework_ocid),
        "tender": _call_off_tender(order.order_id, title),
        "awards": [award], "contracts": [contract]}, redaction=redaction)

    events = deal.lots.get(order.order_id, ())
    if not events:
        return
    hidden = redaction.hides_party(order.supplier_id)
    milestones = [_lot_milestone(redaction, e, hidden) for e in
                  sorted(events, key=lambda e: (e.on, e.stage != "shipped", e.lot_id))]
    last = max(e.on for e in events)
    yield _release(ocid, "implementation", ["implementation"], last, {
        **_call_off_parties(redaction, roles, order.buyer_id),
        "contracts": [{"id": order.order_id, "awardID": order.order_id,
                       "implementation": {"milestones": milestones}}]}, redaction=redaction)


def _lot_milestone(redaction: Redaction, event: LotEvent, hidden_maker: bool) -> dict[str, Any]:
    lot = redaction.lot(event.lot_id, hidden_maker)
    if event.stage == "shipped":
        status = "met"
        text = f"{event.units} unit(s) of lot {lot} shipped"
    else:
        status = ("met" if event.rejected == 0 else
                  "notMet" if event.accepted == 0 else "partiallyMet")
        text = (f"{event.units} unit(s) of lot {lot} inspected: {event.accepted} accepted, "
                f"{event.rejected} rejected")
    if redaction.withholds(SERIAL_NUMBERS):
        redaction.declare(SERIAL_NUMBERS, "contracts/implementation/milestones/description",
                          "Serial numbers of shipped and inspected units")
    elif event.serials:
        text += "; serials " + ", ".join(serial_ranges(event.serials))
        if event.rejections:
            text += "; rejected " + ", ".join(
                f"{serial} ({reason})" if reason else serial
                for serial, reason in sorted(event.rejections))
    return {"id": f"{event.stage}-{lot}-{event.on.isoformat()}",
            "title": f"Lot {lot} {event.stage}", "type": "delivery",
            "description": text, "dateMet": _timestamp(event.on), "status": status}


def _case_releases(deal: Deal, redaction: Redaction, case: Case, framework_ocid: str,
                   ocid: str) -> Iterator[dict[str, Any]]:
    signed = deal.agreement.signed_on
    roles = _roles([(case.buyer_id, "buyer"), (case.seller_id, "supplier")])
    hidden = redaction.hides_party(case.seller_id)
    items = []
    for line in case.lines:
        description = line.description
        if hidden:
            redaction.declare(MANUFACTURER_IDENTITY, "awards/items/description",
                              "Descriptions of a hidden maker's case lines")
            redaction.declare(MANUFACTURER_IDENTITY, "contracts/items/description",
                              "Descriptions of a hidden maker's case lines")
            description = f"{line.category} (line {line.line})"
        items.append(_item(redaction, item_id=str(line.line), description=description,
                           category=line.category, quantity=line.quantity,
                           unit_price=line.unit_price, currency=line.currency))
    currencies = {line.currency for line in case.lines}
    total = (_value(sum(x.quantity * x.unit_price for x in case.lines), currencies.pop())
             if len(currencies) == 1 else None)
    title = f"Case {case.case_id}"
    award: dict[str, Any] = {"id": case.case_id, "title": title, "status": "active",
                             "date": _timestamp(signed),
                             "suppliers": [redaction.party_reference(case.seller_id)],
                             "items": items}
    contract: dict[str, Any] = {"id": case.case_id, "awardID": case.case_id, "title": title,
                                "status": "active", "items": items,
                                "dateSigned": _timestamp(signed)}
    if total is not None:
        _call_off_value(redaction, award, contract, total)
    yield _release(ocid, "contract", ["award", "contract"], signed, {
        **_call_off_parties(redaction, roles, case.buyer_id),
        "relatedProcesses": _related(deal, framework_ocid),
        "tender": _call_off_tender(case.case_id, title),
        "awards": [award], "contracts": [contract]}, redaction=redaction)
    if not case.deliveries:
        return
    milestones = [{"id": d.delivery_id, "title": f"Delivery {d.delivery_id}",
                   "type": "delivery",
                   "description": f"{d.quantity} unit(s) of line {d.line} delivered",
                   "dateMet": _timestamp(d.delivered_on), "status": "met"}
                  for d in sorted(case.deliveries, key=lambda d: (d.delivered_on,
                                                                  d.delivery_id))]
    last = max(d.delivered_on for d in case.deliveries)
    yield _release(ocid, "implementation", ["implementation"], last, {
        **_call_off_parties(redaction, roles, case.buyer_id),
        "contracts": [{"id": case.case_id, "awardID": case.case_id,
                       "implementation": {"milestones": milestones}}]}, redaction=redaction)


# --- serials and JSON -------------------------------------------------------------------

_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def serial_ranges(serials: Iterable[str]) -> list[str]:
    """Serials folded into runs: `SN-0001…SN-0040` for consecutive numbers of one prefix
    and width; anything else listed as it is. Order: sorted."""
    runs: list[str] = []
    start = previous = None
    key: tuple[str, int] | None = None
    number = 0

    def close() -> None:
        if start is not None:
            runs.append(start if start == previous else f"{start}…{previous}")

    for serial in sorted(set(serials)):
        match = _NUMBERED.match(serial)
        this = (match.group(1), len(match.group(2))) if match else None
        value = int(match.group(2)) if match else -1
        if this is not None and this == key and value == number + 1:
            previous, number = serial, value
            continue
        close()
        start = previous = serial
        key, number = this, value
    close()
    return runs


def dumps(value: Any, indent: int | None = None) -> str:
    """JSON text of a package: keys in insertion order, `Decimal`s as exact numbers."""
    return "".join(_encode(value, indent, 0))


def _encode(value: Any, indent: int | None, level: int) -> Iterator[str]:
    if isinstance(value, Decimal):
        assert value.is_finite(), "an amount is a finite number"
        yield format(value, "f")
    elif isinstance(value, dict):
        if not value:
            yield "{}"
            return
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            yield ("," if i else "") + _newline(indent, level + 1)
            yield json.dumps(str(key), ensure_ascii=False) + (": " if indent is not None
                                                               else ":")
            yield from _encode(item, indent, level + 1)
        yield _newline(indent, level) + "}"
    elif isinstance(value, list | tuple):
        if not value:
            yield "[]"
            return
        yield "["
        for i, item in enumerate(value):
            yield ("," if i else "") + _newline(indent, level + 1)
            yield from _encode(item, indent, level + 1)
        yield _newline(indent, level) + "]"
    else:
        assert not isinstance(value, float), "money is never a float"
        yield json.dumps(value, ensure_ascii=False)


def _newline(indent: int | None, level: int) -> str:
    return "" if indent is None else "\n" + " " * (indent * level)
