"""Publish an agreement as an OCDS 1.1 release package for an audience (SPEC §9).

`release_package(session, agreement_id, audience)` reads the agreement, its orders,
cases, deliveries and payments, and builds the package through `core.ocds` under the
publication policy: `public` withholds what the policy lists (by default serials, unit
prices and manufacturers' identities, replaced by pseudonyms, each withheld field
declared); `auditor` withholds nothing. Reads only; the caller owns the transaction.

Configuration (documented in docs/publication.md):

- policy: `--policy FILE`, else env `DRONEDEAL_PUBLICATION_POLICY`, else the shipped
  `dronedeal/policies/publication-default.yaml`;
- pseudonym salt: env `DRONEDEAL_PUBLICATION_SALT`, else the file `publication.salt`
  beside the checkpoint signing key (`./.dronedeal/` by default), made with 32 random
  bytes (mode 0600) the first time a package that needs it is built. Keep it secret and
  never change it: pseudonyms are stable exactly as long as the salt is;
- ocid prefix: env `DRONEDEAL_OCID_PREFIX` (default `ocds-xxxxxx`: register a real one);
- publisher name: env `DRONEDEAL_PUBLISHER_NAME`; package URI base: env
  `DRONEDEAL_PUBLIC_URL` (default `http://localhost:8000`).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml
from sqlalchemy.orm import Session

from dronedeal.core.fx import RateTable
from dronedeal.core.ocds import (
    AUDIENCES,
    SERIAL_NUMBERS,
    Deal,
    Policy,
    PolicyError,
    Publisher,
    Redaction,
    build_package,
    dumps,
    parse_policy,
)
from dronedeal.services import keys
from dronedeal.services.position import load_agreement
from dronedeal.store import master
from dronedeal.store import publication as store

DEFAULT_OCID_PREFIX: Final = "ocds-xxxxxx"
DEFAULT_PUBLISHER: Final = "dronedeal deal office"
DEFAULT_PUBLIC_URL: Final = "http://localhost:8000"
SALT_FILE: Final = "publication.salt"
SALT_BYTES: Final = 32

__all__ = ["AUDIENCES", "PolicyError", "load_policy", "package_json", "publication_salt",
           "release_package"]


def load_policy(path: Path | str | None = None) -> Policy:
    """The policy in `path`, else in env `DRONEDEAL_PUBLICATION_POLICY`, else the shipped
    default; raises PolicyError with the file and what to fix."""
    chosen = path or os.environ.get("DRONEDEAL_PUBLICATION_POLICY") or None
    if chosen is None:
        text = (resources.files("dronedeal").joinpath("policies", "publication-default.yaml")
                .read_text(encoding="utf-8"))
        source = "policies/publication-default.yaml"
    else:
        source = str(chosen)
        try:
            text = Path(chosen).read_text(encoding="utf-8")
        except OSError as error:
            raise PolicyError(f"{source}: cannot read the policy ({error.strerror})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PolicyError(f"{source}: not valid YAML ({error})") from None
    return parse_policy(document, source)


def publication_salt(key: Path | str | None = None) -> bytes:
    """The secret salt of pseudonyms: env `DRONEDEAL_PUBLICATION_SALT`, else
    `publication.salt` beside the signing key (`key`, else the default key path), made on
    first use."""
    from_env = os.environ.get("DRONEDEAL_PUBLICATION_SALT")
    if from_env:
        return from_env.encode()
    path = keys.key_path(key).with_name(SALT_FILE)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # made by a concurrent publication: use that one
            pass
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_hex(SALT_BYTES) + "\n")
    salt = path.read_text(encoding="ascii").strip()
    if not salt:
        raise PolicyError(f"{path} is empty; restore the publication salt from its backup")
    return salt.encode()


def release_package(
    session: Session,
    agreement_id: str,
    audience: str,
    policy: Policy | None = None,
    published: dt.datetime | None = None,
    *,
    salt: bytes | None = None,
) -> dict[str, Any]:
    """The OCDS release package of `agreement_id` for `audience` (`public`, `auditor`).

    Raises `services.position.UnknownAgreementError` for an unknown agreement,
    PolicyError for an unknown audience and `MissingRateError` when an order's value
    cannot be converted into the agreement currency. Amounts in the result are `Decimal`s: write it
    with `package_json`, which keeps every digit."""
    if audience not in AUDIENCES:
        raise PolicyError(f"audience {audience!r} is not one of {', '.join(AUDIENCES)}")
    policy = policy or load_policy()
    rules = policy.rules(audience)
    agreement = load_agreement(session=session, agreement_id=agreement_id)
    orders = [o for o in master.load_orders(session) if o.agreement_id == agreement_id]
    product_ids = {o.product_id for o in orders}
    deal = Deal(
        agreement=agreement,
        parties={p.party_id: p for p in master.load_parties(session)},
        products={p.product_id: p for p in master.load_products(session)
                  if p.product_id in product_ids},
        orders=orders,
        lots=store.lot_events(session, agreement_id,
                              with_serials=SERIAL_NUMBERS not in rules),
        cases=store.cases(session, agreement_id),
        payments=store.payments(session, agreement_id),
        rates=RateTable(master.load_fx_rates(session)),
    )
    if rules and salt is None:
        salt = publication_salt()
    redaction = Redaction(rules, salt or b"", deal)
    base = (os.environ.get("DRONEDEAL_PUBLIC_URL") or DEFAULT_PUBLIC_URL).rstrip("/")
    publisher = Publisher(
        name=os.environ.get("DRONEDEAL_PUBLISHER_NAME") or DEFAULT_PUBLISHER,
        ocid_prefix=os.environ.get("DRONEDEAL_OCID_PREFIX") or DEFAULT_OCID_PREFIX,
        uri=f"{base}/api/v1/ocds/{agreement_id}?audience={audience}",
        published=published or dt.datetime.now(dt.UTC),
    )
    return build_package(deal, redaction, publisher, policy)


def package_json(package: dict[str, Any], indent: int | None = 2) -> str:
    """The package as JSON text, amounts written digit for digit (never via float)."""
    return dumps(package, indent)
