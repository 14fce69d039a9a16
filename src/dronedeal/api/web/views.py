"""What each dashboard page shows, gathered from the same services as the REST API.

Every function takes a session and the viewer and returns plain data for a template;
the row-level scopes are those of `services.access` (a listing or look-up the viewer
may not make raises its AccessError, which the page turns into 401/403/404). The public
(no viewer), and users whose role has no `reports` capability, get only aggregate
figures: per flow, per country and the fund — never a manufacturer's name, a serial
or a unit price. Listings read at most `MAX_ROWS` records per page.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from sqlalchemy.orm import Session

from dronedeal.api.cache import Figures
from dronedeal.core.money import parse_amount
from dronedeal.core.position import FUND_KIND, Batch, Position, Settlement
from dronedeal.core.records import Agreement
from dronedeal.services import access, audit, deliveries_report, position
from dronedeal.services.deliveries_report import FlowCategories
from dronedeal.services.users import User
from dronedeal.store import checkpoint_sizes, log, master, reports
from dronedeal.store.tallies import ACCEPTED

#: records a listing page reads at most
MAX_ROWS: Final = 500
#: payments the agreement page shows (the latest; the API lists them all)
RECENT_PAYMENTS: Final = 100
#: pages a whole-scope aggregate (suppliers, payments) reads at most
MAX_PAGES: Final = 200
#: month ends the net-position history shows at most (the latest ones)
MAX_MONTHS: Final = 36
#: parties the balance history shows apart at most (the largest balances; the others
#: are summed)
MAX_PARTIES: Final = 8


_T = TypeVar("_T")


def deal_office(viewer: User | None) -> bool:
    """Whether the viewer reads positions, balances and party names (role `reports`)."""
    return viewer is not None and viewer.role in access.CAPABILITIES["reports"]


def _every(fetch: Callable[..., access.Page]) -> Iterator[dict[str, Any]]:
    """Every item of a scoped listing, page by page (bounded by MAX_PAGES)."""
    after: access.Key | None = None
    for _ in range(MAX_PAGES):
        items, after = fetch(after=after, limit=access.MAX_LIMIT)
        yield from items
        if after is None:
            return
    raise AssertionError(f"a listing ran past {MAX_PAGES} pages of {access.MAX_LIMIT}")


def visible_agreements(session: Session, viewer: User | None) -> list[Agreement]:
    """The deal office's agreements (an officer's own); everyone else sees every
    agreement's public figures."""
    every = list(master.load_agreements(session))
    if not deal_office(viewer):
        return every
    assert viewer is not None
    ids = access.agreement_ids(session, viewer)
    return [a for a in every if ids is None or a.agreement_id in ids]


@dataclass(frozen=True)
class AgreementCard:
    agreement: Agreement
    position: Position


def _position(session: Session, figures: Figures, agreement_id: str,
              as_of: dt.date) -> Position:
    return figures.get(session, ("position", agreement_id, as_of), lambda: position.position(
        session=session, agreement_id=agreement_id, as_of=as_of))


def overview(session: Session, viewer: User | None, as_of: dt.date,
             figures: Figures) -> list[AgreementCard]:
    return [AgreementCard(a, _position(session, figures, a.agreement_id, as_of))
            for a in visible_agreements(session, viewer)]


@dataclass(frozen=True)
class MonthRow:
    month: dt.date
    #: accepted units per flow, in the agreement's flow order
    units: tuple[int, ...]
    #: accepted value per flow in the agreement currency (minor units)
    values: tuple[int, ...]


@dataclass(frozen=True)
class NetHistory:
    """Net balance per country (funds apart) at each month end, the last one `as_of`."""

    countries: tuple[str, ...]
    #: (day, net per country in `countries` order, minor units)
    points: list[tuple[dt.date, tuple[int, ...]]]


@dataclass(frozen=True)
class PartyHistory:
    """Balances of the parties at each month end, the last one `as_of`: the
    `MAX_PARTIES` largest balances as of `as_of` (largest first, the fund included), and,
    when there are more parties, the others' total in a last column."""

    parties: tuple[str, ...]
    #: parties summed in the last column (0: every party has its own column)
    others: int
    #: (day, balance per party in `parties` order, then the others' total if any)
    points: list[tuple[dt.date, tuple[int, ...]]]


@dataclass
class AgreementPage:
    agreement: Agreement
    position: Position
    months: list[MonthRow]
    history: NetHistory | None = None
    party_history: PartyHistory | None = None
    #: accepted units per month and product category, per flow
    categories: list[FlowCategories] = field(default_factory=list)
    party_names: dict[str, str] = field(default_factory=dict)
    settlement: Settlement | None = None
    payments: list[dict[str, Any]] = field(default_factory=list)


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def deliveries_by_month(session: Session, agreement: Agreement,
                        as_of: dt.date) -> list[MonthRow]:
    """Accepted units and value per calendar month and flow (inspections, plus case
    deliveries), each batch converted at its own date's rate as the ledger posts it."""
    a = agreement.agreement_id
    rates = position.converter(session)
    batches: list[Batch] = [*reports.unit_batches(session, a, as_of, [ACCEPTED]).accepted,
                            *reports.delivery_batches(session, a, as_of)]
    flows = [f.flow_id for f in agreement.flows]
    units: defaultdict[dt.date, list[int]] = defaultdict(lambda: [0] * len(flows))
    values: defaultdict[dt.date, list[int]] = defaultdict(lambda: [0] * len(flows))
    for batch in batches:
        month, i = _month(batch.on), flows.index(batch.flow_id)
        units[month][i] += batch.units
        values[month][i] += rates.convert(batch.value, batch.currency, agreement.currency,
                                          batch.on)
    return [MonthRow(m, tuple(units[m]), tuple(values[m])) for m in sorted(units)]


def month_ends(start: dt.date, end: dt.date) -> list[dt.date]:
    """The last day of each month from `start`'s month to `end`'s; the last is `end`."""
    days: list[dt.date] = []
    month = _month(start)
    while month <= end:
        following = (month + dt.timedelta(days=32)).replace(day=1)
        days.append(min(following - dt.timedelta(days=1), end))
        month = following
    return days[-MAX_MONTHS:]


def balance_history(session: Session, agreement: Agreement, as_of: dt.date
                    ) -> tuple[NetHistory, PartyHistory]:
    """The ledger's balances at each month end since the agreement was signed: netted
    per country (funds apart) and per party (the largest ones; see `PartyHistory`)."""
    days = month_ends(agreement.signed_on, as_of)
    snapshots = position.balances_at(session=session, agreement_id=agreement.agreement_id,
                                     days=days)
    profiles = reports.party_profiles(session, {p for snap in snapshots for p in snap})
    countries = sorted({country for country, kind in profiles.values() if kind != FUND_KIND})
    points = []
    for day, snapshot in zip(days, snapshots, strict=True):
        nets = dict.fromkeys(countries, 0)
        for party_id, balance in snapshot.items():
            country, kind = profiles.get(party_id, ("", ""))
            if kind != FUND_KIND and country in nets:
                nets[country] += balance
        points.append((day, tuple(nets[c] for c in countries)))
    return NetHistory(tuple(countries), points), _party_history(days, snapshots)


def _party_history(days: list[dt.date], snapshots: list[dict[str, int]]) -> PartyHistory:
    last = snapshots[-1] if snapshots else {}
    ranked = sorted(last, key=lambda party_id: (-abs(last[party_id]), party_id))
    if len(ranked) <= MAX_PARTIES:
        shown, others = ranked, 0
    else:
        shown, others = ranked[:MAX_PARTIES], len(ranked) - MAX_PARTIES
    points = []
    for day, snapshot in zip(days, snapshots, strict=True):
        values = [snapshot.get(party_id, 0) for party_id in shown]
        if others:
            values.append(sum(snapshot.values()) - sum(values))
        # every party of an earlier snapshot is in the last one: nothing is left out
        assert sum(values) == 0, f"balances on {day.isoformat()} do not sum to zero"
        points.append((day, tuple(values)))
    return PartyHistory(tuple(shown), others, points)


def agreement_page(session: Session, viewer: User | None, agreement_id: str,
                   as_of: dt.date, figures: Figures) -> AgreementPage:
    """The agreement: the deal office's full page, or everyone else's aggregates."""
    if deal_office(viewer):
        agreement = access.require_agreement(session, viewer, agreement_id, "reports")
    else:
        found = master.load_agreement(session, agreement_id)
        if found is None:
            raise access.NotVisibleError(f"no agreement {agreement_id!r}")
        agreement = found
    history: tuple[NetHistory, PartyHistory] | None = None
    if deal_office(viewer):
        # before the position: the position reuses the ledger read the history makes
        history = figures.get(session, ("history", agreement_id, as_of),
                              lambda: balance_history(session, agreement, as_of))
    page = AgreementPage(
        agreement, _position(session, figures, agreement_id, as_of),
        figures.get(session, ("months", agreement_id, as_of),
                    lambda: deliveries_by_month(session, agreement, as_of)))
    page.categories = figures.get(
        session, ("categories", agreement_id, as_of),
        lambda: deliveries_report.deliveries_by_category(session=session, agreement=agreement,
                                                         as_of=as_of))
    if deal_office(viewer):
        page.party_names = {p.party_id: p.name for p in master.load_parties(session)}
        assert history is not None
        page.history, page.party_history = history
        page.settlement = figures.get(
            session, ("settlement", agreement_id, as_of), lambda: position.settlement(
                session=session, agreement_id=agreement_id, as_of=as_of))
        page.payments = access.recent_payments(session, viewer, agreement_id=agreement_id,
                                               as_of=as_of, limit=RECENT_PAYMENTS)
    return page


@dataclass(frozen=True)
class AuditPage:
    checkpoint: str | None
    vkey: str | None
    tree_size: int
    may_prove: bool
    #: size of the latest checkpoint (0: none yet)
    checkpoint_size: int = 0
    #: sizes of earlier checkpoints to prove consistency from (the first, the newest)
    earlier: tuple[int, ...] = ()


def audit_page(session: Session, viewer: User | None, vkey: str | None) -> AuditPage:
    latest = log.latest_checkpoint(session)
    size = 0 if latest is None else latest.tree_size
    earlier = tuple(checkpoint_sizes.earlier_sizes(session, size)) if size else ()
    may_prove = viewer is not None and viewer.role in access.CAPABILITIES["audit_leaves"]
    return AuditPage(None if latest is None else latest.note, vkey, log.tree_size(session),
                     may_prove, size, earlier)


def inclusion_proof(session: Session, viewer: User | None, leaf: int) -> dict[str, Any]:
    """The inclusion proof of a leaf in the latest checkpoint (admins and auditors)."""
    access.require(viewer, "audit_leaves")
    return audit.inclusion_proof(session, leaf)


@dataclass(frozen=True)
class FindingFilter:
    severity: str = ""
    ruleset_id: str = ""
    rule_id: str = ""
    product_id: str = ""

    def admits(self, finding: dict[str, Any]) -> bool:
        return all(not wanted or finding[name] == wanted for name, wanted in (
            ("severity", self.severity), ("ruleset_id", self.ruleset_id),
            ("rule_id", self.rule_id), ("product_id", self.product_id)))


@dataclass(frozen=True)
class CompliancePage:
    findings: list[dict[str, Any]]
    total: int
    rulesets: list[str]
    rules: list[str]


def compliance_page(session: Session, viewer: User | None, on: dt.date,
                    wanted: FindingFilter) -> CompliancePage:
    """Findings in force on `on` on the products the viewer reads, filtered. The
    session must write: the compliance evaluations are a cache (as in the API)."""
    every = access.all_findings(session, viewer, on=on)
    shown = [f for f in every if wanted.admits(f)]
    return CompliancePage(shown[:MAX_ROWS], len(shown),
                          sorted({f["ruleset_id"] for f in every}),
                          sorted({f["rule_id"] for f in every}))


@dataclass(frozen=True)
class LicenseLine:
    document: dict[str, Any]
    drawn_quantity: int
    drawn_value: int
    max_value: int


def licenses_page(session: Session, viewer: User | None) -> list[LicenseLine]:
    out = []
    for doc in _every(lambda **kw: access.list_licenses(session, viewer, **kw)):
        currency = doc["currency"]
        maximum = parse_amount(doc["max_value"], currency)
        left = parse_amount(doc["remaining"]["value"], currency)
        out.append(LicenseLine(doc, doc["max_quantity"] - doc["remaining"]["quantity"],
                               maximum - left, maximum))
    return out


@dataclass
class SupplierLine:
    party_id: str
    name: str
    country: str
    products: int = 0
    monthly_capacity: int = 0
    orders: int = 0
    ordered_units: int = 0
    shipped: int = 0
    accepted: int = 0
    rejected: int = 0

    @property
    def inspected(self) -> int:
        return self.accepted + self.rejected


def suppliers_page(session: Session, viewer: User | None,
                   figures: Figures | None = None) -> list[SupplierLine]:
    """Manufacturers the viewer reads (a manufacturer: itself), with capacity, orders and
    acceptance, all from scoped listings (cached per scope: role and party)."""
    user = access.require(viewer, "orders")
    if figures is not None:
        return figures.get(session, ("suppliers", user.role, user.party_id),
                           lambda: _supplier_lines(session, user))
    return _supplier_lines(session, user)


def _supplier_lines(session: Session, user: User) -> list[SupplierLine]:
    lines: dict[str, SupplierLine] = {}
    for party in _every(lambda **kw: access.list_parties(session, user, **kw)):
        if party["kind"] == "manufacturer":
            lines[party["party_id"]] = SupplierLine(party["party_id"], party["name"],
                                                    party["country"])
    for product in _every(lambda **kw: access.list_products(session, user, **kw)):
        line = lines.get(product["supplier_id"])
        if line is not None:
            line.products += 1
            line.monthly_capacity += product["monthly_capacity"]
    for order in _every(lambda **kw: access.list_orders(session, user, **kw)):
        line = lines.get(order["supplier_id"])
        if line is not None:
            line.orders += 1
            line.ordered_units += order["quantity"]
    for maker, units in access.units_by_manufacturer(session, user).items():
        line = lines.get(maker)
        if line is not None:
            line.shipped += units["shipped"]
            line.accepted += units["accepted"]
            line.rejected += units["rejected"]
    if user.role == "manufacturer":
        return [v for k, v in sorted(lines.items()) if k == user.party_id]
    return [v for _, v in sorted(lines.items()) if v.products or v.orders]


@dataclass(frozen=True)
class SupplierPage:
    line: SupplierLine
    products: list[dict[str, Any]]
    orders: list[dict[str, Any]]


def supplier_page(session: Session, viewer: User | None, party_id: str,
                  figures: Figures | None = None) -> SupplierPage:
    """One manufacturer; another manufacturer's page is NotVisible, like a missing one."""
    found = next((s for s in suppliers_page(session, viewer, figures)
                  if s.party_id == party_id), None)
    if found is None:
        raise access.NotVisibleError(f"no supplier {party_id!r} you may read")
    products = [p for p in _every(lambda **kw: access.list_products(session, viewer, **kw))
                if p["supplier_id"] == party_id]
    orders = [o for o in _every(lambda **kw: access.list_orders(session, viewer, **kw))
              if o["supplier_id"] == party_id]
    return SupplierPage(found, products, orders[:MAX_ROWS])


def lots_page(session: Session, viewer: User | None, after: access.Key | None
              ) -> access.Page:
    return access.list_lots(session, viewer, after=after, limit=100)
