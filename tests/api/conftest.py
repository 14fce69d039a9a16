"""A deal on a real database behind the API: the minimal pack with events, one user per
role, and a TestClient on the in-process app (no network)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tests.packs import MINIMAL_PACK, write_pack

from dronedeal.api import create_app
from dronedeal.services import keys
from dronedeal.services.importer import import_pack
from dronedeal.services.users import create_user

#: the minimal pack plus a license for the training course, and events of both flows
DEAL_PACK: dict[str, str] = {
    **MINIMAL_PACK,
    "parties.csv": MINIMAL_PACK["parties.csv"] + "dk-mod,Danish Ministry of Defence,state,DK,\n",
    "licenses.csv": MINIMAL_PACK["licenses.csv"]
    + "lic-0002,UA,ua-mfr-002,us-dod,prd-0003,2,70000.00,USD,2025-09-01,2026-12-31\n",
    "shipments.csv": "serial,product_id,lot_id,order_id,license_id,shipped_on\n"
    + "".join(f"VZ7-{n:04d},prd-0001,LOT-A,ord-0001,lic-0001,2025-10-01\n" for n in range(1, 6))
    + "KT-0001,prd-0003,LOT-K,ord-0002,lic-0002,2025-10-02\n",
    "inspections.csv": "serial,product_id,result,reason,inspected_on\n"
    "VZ7-0001,prd-0001,accepted,,2025-10-10\n"
    "VZ7-0002,prd-0001,accepted,,2025-10-10\n"
    "VZ7-0003,prd-0001,rejected,camera fault,2025-10-10\n",
    "cases.csv": "case_id,line,agreement_id,flow_id,seller_id,buyer_id,description,category,"
    "quantity,unit_price,currency\n"
    "UA-D-SAA,1,ua-us-2025,weapons-to-ua,us-prime-001,ua-mod,Interceptor missiles,"
    "air_defense,10,4100000.00,USD\n",
    "case_deliveries.csv": "delivery_id,case_id,line,quantity,delivered_on\n"
    "dlv-1,UA-D-SAA,1,4,2025-10-15\n",
    "payments.csv": "payment_id,agreement_id,payer_id,payee_id,amount,currency,paid_on,"
    "reference\n"
    "pay-1,ua-us-2025,us-dod,ua-mfr-001,10000.00,USD,2025-11-20,INV-1\n"
    "pay-2,ua-us-2025,ua-mod,us-prime-001,5000000.00,UAH,2025-12-01,\n",
}

#: who is who: role name in the tests -> (role, party)
PEOPLE: dict[str, tuple[str, str | None]] = {
    "admin": ("admin", None),
    "auditor": ("auditor", None),
    "officer_us": ("officer", "us-dod"),
    "officer_dk": ("officer", "dk-mod"),
    "manufacturer_1": ("manufacturer", "ua-mfr-001"),
    "manufacturer_2": ("manufacturer", "ua-mfr-002"),
    "inspector_us": ("inspector", "us-dod"),
}


@dataclass
class Deal:
    """The app on a database holding `DEAL_PACK`, with a token per person."""

    client: TestClient
    tokens: dict[str, str]
    engine: Engine
    key: Path

    def headers(self, who: str) -> dict[str, str]:
        return {} if who == "anonymous" else {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def signing_key(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "signing.key"
    keys.create_key(path, "dronedeal.test/log")
    return path


@pytest.fixture
def empty_api(engine: Engine, db_url: str, signing_key: Path) -> Iterator[Deal]:
    """The app on an empty schema, with an admin and an auditor only."""
    with Session(engine) as session, session.begin():
        tokens = {who: create_user(session, name=who, role=role).token
                  for who, (role, _) in PEOPLE.items() if who in ("admin", "auditor")}
    with TestClient(create_app(db_url, key=signing_key)) as client:
        yield Deal(client, tokens, engine, signing_key)


@pytest.fixture
def deal(engine: Engine, db_url: str, signing_key: Path, tmp_path: Path) -> Iterator[Deal]:
    """The app on a database holding `DEAL_PACK`, one user per entry of `PEOPLE`."""
    with Session(engine) as session, session.begin():
        import_pack(session, write_pack(tmp_path / "deal", DEAL_PACK),
                    keys.load_signer(signing_key))
    with Session(engine) as session, session.begin():
        tokens = {who: create_user(session, name=who, role=role, party_id=party).token
                  for who, (role, party) in PEOPLE.items()}
    with TestClient(create_app(db_url, key=signing_key)) as client:
        yield Deal(client, tokens, engine, signing_key)
