"""A deal at a glance: record counts and, per agreement, ceiling and ordered value.

Ordered value follows SPEC §5: each order's and case line's value converted into the
agreement currency at the rate on the agreement's `signed_on`, rounded half-even per
line, then summed (`services.position.ceiling_used`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dronedeal.core.fx import RateTable
from dronedeal.core.money import format_amount
from dronedeal.services.position import ceiling_used, load_agreement
from dronedeal.store import events, ledger, master


def ordered_value(session: Session, agreement_id: str) -> tuple[int, str]:
    """The agreement's ordered value (its ceiling used) in minor units, with its currency."""
    agreement = load_agreement(session=session, agreement_id=agreement_id)
    rates = RateTable(master.load_fx_rates(session))
    return ceiling_used(session=session, agreement=agreement, rates=rates), agreement.currency


def deal_summary(session: Session) -> dict[str, Any]:
    """Counts of every master table and the agreements' headline figures."""
    counts = master.counts(session)
    event_counts = events.counts(session)
    manufacturers = session.scalar(
        select(func.count()).select_from(master.PartyRow)
        .where(master.PartyRow.kind == "manufacturer")) or 0
    from dronedeal.store.log import tree_size

    agreements = []
    for agreement in master.load_agreements(session):
        ordered, currency = ordered_value(session, agreement.agreement_id)
        agreements.append({
            "agreement_id": agreement.agreement_id,
            "title": agreement.title,
            "currency": currency,
            "ceiling": format_amount(agreement.ceiling, currency),
            "ordered": format_amount(ordered, currency),
            "flows": [f.flow_id for f in agreement.flows],
        })
    return {
        "counts": {
            "agreements": counts["agreement"], "parties": counts["party"],
            "manufacturers": manufacturers, "products": counts["product"],
            "bom_lines": counts["bom_line"], "orders": counts["order"],
            "licenses": counts["license"], "fx_rates": counts["fx_rate"],
            "shipments": event_counts["shipment"],
            "inspections": event_counts["inspection"],
            "case_lines": event_counts["case_line"],
            "case_deliveries": event_counts["case_delivery"],
            "payments": event_counts["payment"],
            "transfers": ledger.count_transfers(session),
            "log_leaves": tree_size(session),
        },
        "agreements": agreements,
    }
