"""The dashboard's pages: HTTP in, a `views` call, a Jinja2 template out.

Each page reads in its own transaction (compliance and imports write: the findings
cache, the pack). A viewer who may not see a page gets the same answer as in the API:
401 (with the login form) for the public, 403 for a role without the capability, 404
for a record outside its scope — and nothing of the record. Every POST checks the
form's CSRF token first (`session.csrf_valid`): without it, 403 and nothing changes.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from dronedeal.api.cache import figures
from dronedeal.api.deps import PathId, settings
from dronedeal.api.paging import decode_cursor, encode_cursor
from dronedeal.api.routers.imports import run_import
from dronedeal.api.web import charts, session, views
from dronedeal.api.web.i18n import Formats, translate
from dronedeal.core.errors import RefusedError, RowError
from dronedeal.core.money import format_amount, parse_amount
from dronedeal.services import access, audit, position
from dronedeal.services.users import User

HERE: Final = Path(__file__).parent
MAX_FILES: Final = 64
FORGED: Final = ("This form did not come from this site or has expired: nothing was "
                 "changed. Reload the page and send it again.")
CHUNK: Final = 1024 * 1024

router = APIRouter(include_in_schema=False)
templates: Final = Environment(loader=FileSystemLoader(HERE / "templates"),
                               autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True)
templates.globals.update(charts=charts, format_amount=format_amount, parse_amount=parse_amount)


def compile_templates() -> None:
    """Compile every page template now, at app start-up, rather than on its first
    request: compiling the agreement page's templates took ~65 ms of its first render.
    Jinja keeps a compiled template for the process (and still reloads one whose file
    changed), so this holds code, never figures."""
    for name in templates.list_templates(extensions=["html"]):
        templates.get_template(name)


def _render(request: Request, name: str, viewer: User | None, *, status: int = 200,
            **context: Any) -> HTMLResponse:
    lang = session.language(request)
    fmt = Formats(lang)
    csrf, nonce = session.csrf_token(request)
    html = templates.get_template(name).render(
        request=request, viewer=viewer, lang=lang, fmt=fmt,
        _=lambda text: translate(text, lang), deal_office=views.deal_office(viewer),
        path=request.url.path, csrf_field=session.CSRF_FIELD, csrf_token=csrf, **context)
    # the page holds this visitor's CSRF token (and maybe withheld figures): no cache keeps it
    response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
    if nonce is not None:
        session.set_csrf_cookie(request, response, nonce)
    if request.query_params.get("lang") in ("en", "uk"):
        response.set_cookie(session.LANG_COOKIE, lang, max_age=365 * 86400,
                            samesite="lax", path="/")
    return response


def _forged(request: Request, viewer: User | None) -> HTMLResponse:
    """The answer to a POST without this visitor's CSRF token: 403, nothing done."""
    return _render(request, "error.html", viewer, status=403, code=403,
                   heading="Form refused", message=FORGED)


def _refused(request: Request, viewer: User | None, error: Exception) -> HTMLResponse:
    status = getattr(error, "http_status", 404)
    message = {401: "Log in to see this page.", 403: "Your role may not see this page."
               }.get(status, "Nothing here that you may see.")
    return _render(request, "error.html", viewer, status=status, message=message,
                   code=status)


def _page(request: Request, name: str, build: Callable[[Session, User | None], dict[str, Any]],
          *, write: bool = False) -> HTMLResponse:
    """Render `name` with what `build` gathers in one transaction for the viewer."""
    viewer = session.viewer(request)
    config = settings(request)
    factory = config.writers if write else config.readers
    try:
        with factory() as db, db.begin():
            context = build(db, viewer)
    except (access.AccessError, position.UnknownAgreementError) as refused:
        return _refused(request, viewer, refused)
    return _render(request, name, viewer, **context)


AsOf = Annotated[dt.date | None, Query()]


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, as_of: AsOf = None) -> HTMLResponse:
    day = as_of or dt.date.today()
    return _page(request, "overview.html", lambda db, viewer: {
        "cards": views.overview(db, viewer, day, figures(request)), "as_of": day})


@router.get("/agreements/{agreement_id}", response_class=HTMLResponse)
def agreement(request: Request, agreement_id: PathId, as_of: AsOf = None) -> HTMLResponse:
    day = as_of or dt.date.today()

    def build(db: Session, viewer: User | None) -> dict[str, Any]:
        page = views.agreement_page(db, viewer, agreement_id, day, figures(request))
        lang = session.language(request)
        fmt = Formats(lang)
        flows = [f.flow_id for f in page.agreement.flows]
        chart = charts.grouped_bars(
            flows, [charts.Group(fmt.month(m.month), m.units) for m in page.months],
            table_id="months", title=translate("Deliveries per month", lang))
        history = None if page.history is None else charts.lines(
            page.history.countries,
            [charts.Group(fmt.month(day), nets) for day, nets in page.history.points],
            table_id="history", title=translate("Net position over time", lang))
        parties = page.party_history
        party_chart = None if parties is None else charts.lines(
            [*parties.parties, *([translate("Other parties", lang)] if parties.others else [])],
            [charts.Group(fmt.month(day), values) for day, values in parties.points],
            table_id="party-history", title=translate("Balances over time", lang))
        by_category = [(f, charts.stacked_bars(
            f.categories, [charts.Group(fmt.month(m), units) for m, units in f.months],
            table_id=f"categories-{f.flow_id}",
            title=f'{translate("Deliveries per month by category", lang)}: {f.flow_id}'))
            for f in page.categories if f.months]
        return {"page": page, "as_of": day, "flows": flows, "chart": chart,
                "history_chart": history, "party_chart": party_chart,
                "by_category": by_category}

    return _page(request, "agreement.html", build)


@router.get("/audit", response_class=HTMLResponse)
def audit_view(request: Request) -> HTMLResponse:
    try:
        vkey: str | None = settings(request).signer().vkey()
    except (FileNotFoundError, ValueError):
        vkey = None
    return _page(request, "audit.html", lambda db, viewer: {
        "page": views.audit_page(db, viewer, vkey)})


@router.get("/audit/proof")
def audit_proof(request: Request, leaf: Annotated[int, Query(ge=0)]) -> JSONResponse:
    """The inclusion proof the audit page verifies in the browser (cookie login)."""
    viewer = session.viewer(request)
    try:
        with settings(request).readers() as db, db.begin():
            proof = views.inclusion_proof(db, viewer, leaf)
    except access.AccessError as refused:
        return JSONResponse({"detail": str(refused)}, status_code=refused.http_status)
    except audit.AuditError as refused:
        return JSONResponse({"detail": str(refused)}, status_code=404)
    return JSONResponse(proof)


@router.get("/compliance", response_class=HTMLResponse)
def compliance(request: Request, *, on: AsOf = None, severity: str = "", ruleset_id: str = "",
               rule_id: str = "", product_id: str = "") -> HTMLResponse:
    day = on or dt.date.today()
    wanted = views.FindingFilter(severity, ruleset_id, rule_id, product_id)
    return _page(request, "compliance.html", lambda db, viewer: {
        "page": views.compliance_page(db, viewer, day, wanted), "on": day, "wanted": wanted},
        write=True)


@router.get("/licenses", response_class=HTMLResponse)
def licenses(request: Request) -> HTMLResponse:
    return _page(request, "licenses.html", lambda db, viewer: {
        "lines": views.licenses_page(db, viewer)})


@router.get("/suppliers", response_class=HTMLResponse)
def suppliers(request: Request) -> HTMLResponse:
    return _page(request, "suppliers.html", lambda db, viewer: {
        "lines": views.suppliers_page(db, viewer, figures(request))})


@router.get("/suppliers/{party_id}", response_class=HTMLResponse)
def supplier(request: Request, party_id: PathId) -> HTMLResponse:
    return _page(request, "supplier.html", lambda db, viewer: {
        "page": views.supplier_page(db, viewer, party_id, figures(request))})


@router.get("/lots", response_class=HTMLResponse)
def lots(request: Request, cursor: str | None = None, serial: str = "") -> HTMLResponse:
    def build(db: Session, viewer: User | None) -> dict[str, Any]:
        items, after = views.lots_page(db, viewer, decode_cursor(cursor, str, str))
        unit, missing = None, False
        if serial.strip():
            try:
                unit = access.get_unit(db, viewer, serial.strip())
            except access.NotVisibleError:
                missing = True
        return {"lots": items, "next": encode_cursor(after), "serial": serial, "unit": unit,
                "missing": missing}

    return _page(request, "lots.html", build)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return _render(request, "login.html", session.viewer(request))


CsrfField = Annotated[str, Form(alias=session.CSRF_FIELD, max_length=256)]


@router.post("/login", response_model=None)
def login(request: Request, token: Annotated[str, Form(max_length=256)],
          csrf: CsrfField = "") -> HTMLResponse | RedirectResponse:
    if not session.csrf_valid(request, csrf):
        return _forged(request, session.viewer(request))
    user = session.authenticate(request, token.strip())
    if user is None:
        return _render(request, "login.html", None, status=401,
                       message="The token is not valid.")
    response = RedirectResponse("/", status_code=303)
    session.start(request, response, token.strip())
    return response


@router.post("/logout", response_model=None)
def logout(request: Request, csrf: CsrfField = "") -> HTMLResponse | RedirectResponse:
    if not session.csrf_valid(request, csrf):
        return _forged(request, session.viewer(request))
    response = RedirectResponse("/", status_code=303)
    session.end(response)
    return response


@router.get("/import", response_class=HTMLResponse)
def import_form(request: Request) -> HTMLResponse:
    viewer = session.viewer(request)
    try:
        access.require(viewer, "imports")
    except access.AccessError as refused:
        return _refused(request, viewer, refused)
    return _render(request, "import.html", viewer)


@router.post("/import", response_class=HTMLResponse)
async def import_pack_page(request: Request) -> HTMLResponse:
    """Upload pack files; the same validation and atomicity as `POST /api/v1/imports`."""
    viewer = session.viewer(request)
    errors: list[RowError] = []
    summary: dict[str, Any] | None = None
    try:
        access.require(viewer, "imports")
        with tempfile.TemporaryDirectory(prefix="dronedeal-web-upload-") as folder:
            root = Path(folder)
            async with request.form(max_files=MAX_FILES, max_fields=MAX_FILES) as form:
                if not session.csrf_valid(request, form.get(session.CSRF_FIELD)):
                    return _forged(request, viewer)
                dry_run = form.get("dry_run") == "on"
                for _, value in form.multi_items():
                    if not isinstance(value, UploadFile) or not value.filename:
                        continue
                    name = Path(value.filename).name
                    if name.startswith(".") or not name:
                        continue
                    with (root / name).open("wb") as out:
                        while chunk := await value.read(CHUNK):
                            out.write(chunk)
            summary = await run_in_threadpool(run_import, settings(request), viewer, root, dry_run)
    except access.AccessError as refused:
        return _refused(request, viewer, refused)
    except RefusedError as refused:
        errors = refused.errors
    return _render(request, "import.html", viewer, status=422 if errors else 200,
                   errors=errors[:1000], error_count=len(errors),
                   summary=json.dumps(summary, indent=2) if summary else None)
