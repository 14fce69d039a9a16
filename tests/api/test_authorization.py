"""The authorization matrix: every endpoint × every role, as SPEC §8's role table says.

Each row names a request and the status each person gets: 200 (or 201) allowed, 401 no
token, 403 the role lacks the capability, 404 the record is outside the person's scope
(exactly what a missing record answers, so existence is not disclosed). A last test
checks that the matrix covers every route the app serves.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from tests.api.conftest import PEOPLE, Deal

WHO = ("anonymous", *PEOPLE)
A = "api/v1"
HAS_OCDS = importlib.util.find_spec("dronedeal.services.publication") is not None
OCDS_OK = 200 if HAS_OCDS else 501


def row(*, anonymous: int = 401, admin: int = 200, auditor: int = 200, officer_us: int = 200,
        officer_dk: int = 200, manufacturer_1: int = 200, manufacturer_2: int = 200,
        inspector_us: int = 200) -> dict[str, int]:
    return {"anonymous": anonymous, "admin": admin, "auditor": auditor,
            "officer_us": officer_us, "officer_dk": officer_dk,
            "manufacturer_1": manufacturer_1, "manufacturer_2": manufacturer_2,
            "inspector_us": inspector_us}


DEAL_OFFICE_ONLY = {"manufacturer_1": 403, "manufacturer_2": 403, "inspector_us": 403}
AUDITORS_ONLY = {"officer_us": 403, "officer_dk": 403, "manufacturer_1": 403,
                 "manufacturer_2": 403, "inspector_us": 403}
PUBLIC = {"anonymous": 200}

DEMAND = {"flow_id": "drones-to-us", "on": "2025-10-01", "demand": [
    {"demand_id": "d-1", "flow_id": "drones-to-us", "category": "uas.interceptor",
     "quantity": 10, "due_on": "2026-03-31"}]}
PARTIES_CSV = "party_id,name,kind,country,identifier\nus-dod,U.S. Department of Defense,state,US,\n"
SHIPMENTS_CSV = ("serial,product_id,lot_id,order_id,license_id,shipped_on\n"
                 "VZ7-0006,prd-0001,LOT-B,ord-0001,lic-0001,2025-10-20\n")
INSPECTIONS_CSV = ("serial,product_id,result,reason,inspected_on\n"
                   "VZ7-0004,prd-0001,accepted,,2025-10-21\n")


def upload(name: str, text: str) -> dict[str, Any]:
    """A dry-run import of one file."""
    return {"params": {"dry_run": "true"}, "files": [("files", (name, text, "text/csv"))]}


#: (method, path, request options, expected status per person)
MATRIX: list[tuple[str, str, dict[str, Any], dict[str, int]]] = [
    ("GET", "/parties", {}, row()),
    ("GET", "/parties/ua-mfr-002", {}, row(manufacturer_1=404, inspector_us=404)),
    ("GET", "/products", {}, row()),
    ("GET", "/products/prd-0001", {}, row(manufacturer_2=404)),
    ("GET", "/agreements", {}, row(**DEAL_OFFICE_ONLY)),
    ("GET", "/agreements/ua-us-2025", {}, row(officer_dk=404, **DEAL_OFFICE_ONLY)),
    ("GET", "/orders", {}, row()),
    # another manufacturer's order by id: 404, not 403
    ("GET", "/orders/ord-0002", {}, row(officer_dk=404, manufacturer_1=404)),
    ("GET", "/licenses", {}, row(inspector_us=403)),
    ("GET", "/licenses/lic-0001", {}, row(officer_dk=404, manufacturer_2=404,
                                          inspector_us=403)),
    ("GET", "/lots", {}, row()),
    ("GET", "/lots/LOT-A", {}, row(officer_dk=404, manufacturer_2=404)),
    ("GET", "/units/VZ7-0001", {}, row(officer_dk=404, manufacturer_2=404)),
    ("GET", "/cases", {}, row(inspector_us=403)),
    ("GET", "/cases/UA-D-SAA", {}, row(officer_dk=404, manufacturer_1=404,
                                       manufacturer_2=404, inspector_us=403)),
    ("GET", "/payments", {}, row(inspector_us=403)),
    ("GET", "/payments/pay-1", {}, row(officer_dk=404, manufacturer_2=404,
                                       inspector_us=403)),
    ("GET", "/findings", {"params": {"on": "2025-10-01"}}, row()),
    ("GET", "/agreements/ua-us-2025/position", {"params": {"as_of": "2025-12-31"}},
     row(officer_dk=404, **DEAL_OFFICE_ONLY)),
    ("GET", "/agreements/ua-us-2025/settlement", {"params": {"as_of": "2025-12-31"}},
     row(officer_dk=404, **DEAL_OFFICE_ONLY)),
    ("POST", "/agreements/ua-us-2025/allocations", {"json": DEMAND},
     row(auditor=403, officer_dk=404, **DEAL_OFFICE_ONLY)),
    ("GET", "/ledger/transfers", {}, row(**DEAL_OFFICE_ONLY)),
    ("GET", "/ledger/export", {"params": {"agreement_id": "ua-us-2025"}},
     row(officer_dk=404, **DEAL_OFFICE_ONLY)),
    ("GET", "/ocds/ua-us-2025", {"params": {"audience": "public"}},
     row(**dict.fromkeys(WHO, OCDS_OK))),
    ("GET", "/ocds/ua-us-2025", {"params": {"audience": "auditor"}},
     row(admin=OCDS_OK, auditor=OCDS_OK, officer_us=OCDS_OK, officer_dk=404,
         **DEAL_OFFICE_ONLY)),
    ("GET", "/audit/checkpoint", {}, row(**PUBLIC)),
    ("GET", "/audit/pubkey", {}, row(**PUBLIC)),
    ("GET", "/audit/proofs/consistency", {"params": {"from": 1, "to": 5}}, row(**PUBLIC)),
    ("GET", "/audit/proofs/inclusion", {"params": {"leaf": 0}}, row(**AUDITORS_ONLY)),
    ("GET", "/audit/entries", {}, row(**AUDITORS_ONLY)),
    ("GET", "/summary", {}, row(**PUBLIC)),
    ("GET", "/users/me", {}, row()),
    ("POST", "/users", {"json": {"name": "Olena", "role": "auditor"}},
     row(admin=201, auditor=403, officer_us=403, officer_dk=403, manufacturer_1=403,
         manufacturer_2=403, inspector_us=403)),
    # master data: the deal office only
    ("POST", "/imports", upload("parties.csv", PARTIES_CSV),
     row(auditor=403, manufacturer_1=403, manufacturer_2=403, inspector_us=403)),
    # a shipment manifest: its manufacturer (and the deal office)
    ("POST", "/imports", upload("shipments.csv", SHIPMENTS_CSV),
     row(auditor=403, manufacturer_2=403, inspector_us=403)),
    # inspections: the buyer's inspector (and the deal office)
    ("POST", "/imports", upload("inspections.csv", INSPECTIONS_CSV),
     row(auditor=403, manufacturer_1=403, manufacturer_2=403)),
]


@pytest.mark.parametrize("who", WHO)
def test_every_endpoint_answers_each_role_as_the_role_table_says(deal: Deal, who: str) -> None:
    wrong = []
    for method, path, options, expected in MATRIX:
        response = deal.client.request(method, f"/{A}{path}", headers=deal.headers(who),
                                       **options)
        if response.status_code != expected[who]:
            wrong.append(f"{method} {path} {options.get('params', '')}: "
                         f"{response.status_code}, expected {expected[who]}: "
                         f"{response.text[:200]}")
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == response.status_code
    assert not wrong, "\n".join(wrong)


def test_a_scoped_list_shows_only_the_callers_rows(deal: Deal) -> None:
    def ids(who: str, path: str, key: str) -> list[str]:
        response = deal.client.get(f"/{A}{path}", headers=deal.headers(who))
        assert response.status_code == 200
        return [item[key] for item in response.json()["items"]]

    assert ids("manufacturer_1", "/orders", "order_id") == ["ord-0001"]
    assert ids("manufacturer_2", "/orders", "order_id") == ["ord-0002"]
    assert ids("officer_dk", "/orders", "order_id") == []
    assert ids("manufacturer_1", "/payments", "payment_id") == ["pay-1"]
    assert ids("manufacturer_1", "/products", "product_id") == ["prd-0001"]
    assert "ua-mfr-002" not in ids("manufacturer_1", "/parties", "party_id")
    assert ids("officer_dk", "/agreements", "agreement_id") == []
    assert ids("officer_us", "/agreements", "agreement_id") == ["ua-us-2025"]


def test_a_wrong_token_is_401_and_says_how_to_authenticate(deal: Deal) -> None:
    for header in ("Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer "):
        response = deal.client.get(f"/{A}/orders", headers={"Authorization": header})
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_matrix_covers_every_route(deal: Deal) -> None:
    paths = deal.client.get("/openapi.json").json()["paths"]
    served = {(method.upper(), path) for path, operations in paths.items()
              for method in operations if path.startswith(f"/{A}")}
    listed = set()
    for method, path, _, _ in MATRIX:
        for route_method, route_path in served:
            parts = route_path.removeprefix(f"/{A}").split("/")
            actual = path.split("/")
            if route_method == method and len(parts) == len(actual) and all(
                    p == a or p.startswith("{") for p, a in zip(parts, actual, strict=True)):
                listed.add((route_method, route_path))
    assert served - listed == set()
