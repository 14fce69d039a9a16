"""Reports over HTTP: position and settlement (SPEC §5, with ETags), allocation of a
demand (SPEC §4), ledger transfers, the OCDS release package (SPEC §9) and the public
deal summary.

Position, settlement and allocation are the deal office's: an officer only for the
agreements its state buys or receives in. The public reads the redacted OCDS package
and the summary; the auditor audience of OCDS is the deal office's.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable, Hashable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from dronedeal.api.cache import figures
from dronedeal.api.deps import (
    PathId,
    QueryId,
    Reading,
    Viewer,
    Writing,
    WritingViewer,
    authenticate_at,
    authenticate_now,
    bearer,
    settings,
    snapshot,
)
from dronedeal.api.paging import (
    Cursor,
    Limit,
    Page,
    Rendered,
    decode_cursor,
    page,
    render,
    with_etag,
)
from dronedeal.api.problems import ApiProblem
from dronedeal.core.allocation import DEFAULT_SHARE
from dronedeal.core.csvsafe import csv_text
from dronedeal.rules import RuleEvaluationError, UnknownRulesetError
from dronedeal.services import access, ledger, position, publication, summary
from dronedeal.services.allocation import allocate, find_flow, read_demand
from dronedeal.services.users import User

router = APIRouter(tags=["reports"])

AgreementId = PathId
AsOf = Annotated[dt.date | None, Query(description="events dated on or before; default "
                                                   "today")]
DEMAND_COLUMNS: Final = ("demand_id", "flow_id", "category", "quantity", "due_on",
                         "max_unit_price", "currency")
#: demand lines one request may carry
MAX_DEMAND_LINES: Final = 10_000
ORDER_COLUMNS: Final = ("order_id", "agreement_id", "flow_id", "buyer_id", "supplier_id",
                        "product_id", "quantity", "unit_price", "currency", "due_on")


@router.get("/agreements/{agreement_id}/position",
            responses={200: {"content": {"application/json": {}}}, 304: {}})
async def get_position(agreement_id: AgreementId, request: Request, as_of: AsOf = None
                       ) -> Response:
    """The position of SPEC §5 as of a date; send its ETag back in If-None-Match."""
    return await _report(request, "position", agreement_id, as_of or dt.date.today())


@router.get("/agreements/{agreement_id}/settlement",
            responses={200: {"content": {"application/json": {}}}, 304: {}})
async def get_settlement(agreement_id: AgreementId, request: Request, as_of: AsOf = None
                         ) -> Response:
    """The settlement proposal of SPEC §5: at most n−1 payments that zero every balance."""
    return await _report(request, "settlement", agreement_id, as_of or dt.date.today())


_REPORTS: Final[dict[str, Callable[..., Any]]] = {
    "position": position.position, "settlement": position.settlement}
#: threads that answer reports from the cache. One: a cached answer holds its thread for
#: a fraction of a millisecond, and more threads only pass the GIL around (with a thread
#: per connection p99 tripled; two threads served a third fewer requests than one). A
#: miss computes on the app's general threadpool, so a report that takes seconds to
#: compute never holds up the cached ones.
CACHE_THREADS: Final = 1


def _cache_threads(request: Request) -> anyio.CapacityLimiter:
    """The app's limiter for cached answers, made on first use inside the event loop
    (a limiter belongs to the loop it was made in)."""
    state = request.app.state
    found: anyio.CapacityLimiter | None = getattr(state, "cache_threads", None)
    if found is None:
        found = state.cache_threads = anyio.CapacityLimiter(CACHE_THREADS)
    return found


async def _report(request: Request, kind: str, agreement_id: str, day: dt.date
                  ) -> Response:
    """A position or settlement answer: from the cache when it holds it (one statement
    on one connection, outside any transaction: the caller and the log's size), else
    computed.

    The caller is looked up afresh on every request, so a removed user is refused at
    once. The caller's right to the agreement and the rendered report are cached per
    state of the log (`api.cache`): whether an officer's state buys in an agreement
    changes only with the agreement's flows, which are log leaves. A refusal is never
    cached: it takes the computing path, which checks from scratch."""
    token = bearer(request)
    if token is None:
        raise access.NotAuthenticatedError(f"reading {kind} needs a bearer token")
    cached = await anyio.to_thread.run_sync(
        _cached, request, token, kind, agreement_id, day, limiter=_cache_threads(request))
    if cached is None:
        cached = await run_in_threadpool(_computed, request, token, kind, agreement_id, day)
    return cached.answer(request)


def _keys(user: User, kind: str, agreement_id: str, day: dt.date
          ) -> tuple[tuple[Hashable, ...], tuple[Hashable, ...]]:
    """The cache keys of the caller's right to the agreement and of the rendered report."""
    return (("may_read", agreement_id, user.role, user.party_id),
            (f"{kind}.json", agreement_id, day))


def _cached(request: Request, token: str, kind: str, agreement_id: str, day: dt.date
            ) -> Rendered | None:
    """The answer if the cache holds it for the log as it is now; None on a miss."""
    user, tree_size = authenticate_now(request, token)
    access.require(user, "reports")
    current = figures(request).at_size(tree_size)
    may_read, answer = _keys(user, kind, agreement_id, day)
    if current.find(may_read) is None:
        return None
    found = current.find(answer)
    return found if isinstance(found, Rendered) else None


def _computed(request: Request, token: str, kind: str, agreement_id: str, day: dt.date
              ) -> Rendered:
    """The answer, computed (and cached) in one transaction that sees one state of the
    log throughout: a plain connection's, which an ORM session joins for the services."""
    with snapshot(request) as connection:
        user, tree_size = authenticate_at(request, connection, token)
        access.require(user, "reports")
        current = figures(request).at_size(tree_size)
        may_read, answer = _keys(user, kind, agreement_id, day)
        with Session(bind=connection) as session:
            current.get(may_read, lambda: access.require_agreement(
                session, user, agreement_id, "reports").agreement_id)
            return current.get(answer, lambda: render(
                current.get((kind, agreement_id, day), lambda: _REPORTS[kind](
                    session=session, agreement_id=agreement_id, as_of=day)).document()))


_DEMAND_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {
                "type": "object", "required": ["demand"],
                "properties": {
                    "flow_id": {"type": "string"},
                    "on": {"type": "string", "format": "date"},
                    "max_share": {"type": "string"},
                    "demand": {"type": "array", "items": {
                        "type": "object",
                        "properties": {c: {"type": ["string", "integer", "null"]}
                                       for c in DEMAND_COLUMNS}}}}}},
            "text/csv": {"schema": {"type": "string"}},
        },
    },
}


def _demand_csv(request_body: bytes, content_type: str) -> tuple[str, dict[str, Any]]:
    """The demand as CSV text, and the options the JSON body carried."""
    if content_type.startswith("text/csv"):
        try:
            return request_body.decode("utf-8-sig"), {}
        except UnicodeDecodeError:
            raise ApiProblem(422, "the demand CSV is not UTF-8 text") from None
    if not content_type.startswith("application/json"):
        raise ApiProblem(415, "send the demand as application/json or text/csv")
    try:
        body = json.loads(request_body)
    except ValueError:
        raise ApiProblem(422, "the body is not JSON") from None
    lines = body.get("demand") if isinstance(body, dict) else None
    if not isinstance(lines, list) or len(lines) > MAX_DEMAND_LINES:
        raise ApiProblem(422, f"the body needs `demand`: a list of at most "
                              f"{MAX_DEMAND_LINES} demand lines (SPEC §4 columns)")
    rows: list[list[str]] = []
    for number, line in enumerate(lines, start=1):
        if not isinstance(line, dict) or not all(
                isinstance(v, str | int | None) and not isinstance(v, bool)
                for v in line.values()):
            raise ApiProblem(422, f"demand line {number} must be an object of strings "
                                  f"and integers with the columns {', '.join(DEMAND_COLUMNS)}")
        rows.append(["" if line.get(c) is None else str(line[c]) for c in DEMAND_COLUMNS])
    options = {k: body[k] for k in ("flow_id", "on", "max_share") if k in body}
    return csv_text(DEMAND_COLUMNS, rows), options


def _share(text: str | None) -> Decimal:
    if text is None:
        return DEFAULT_SHARE
    try:
        share = Decimal(str(text))
    except InvalidOperation:
        share = Decimal("NaN")
    if not share.is_finite() or not 0 < share <= 1:
        raise ApiProblem(422, f"max_share {text!r} is not a share above 0 and at most 1")
    return share


def _day(text: str | None) -> dt.date:
    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise ApiProblem(422, f"on {text!r} is not a date YYYY-MM-DD") from None


@router.post("/agreements/{agreement_id}/allocations", openapi_extra=_DEMAND_BODY,
             responses={200: {"content": {"application/json": {}, "text/csv": {}}}})
async def post_allocation(
    agreement_id: AgreementId, request: Request, session: Writing, viewer: WritingViewer, *,
    flow_id: QueryId = None,
    on: Annotated[str | None, Query(max_length=10)] = None,
    max_share: Annotated[str | None, Query(max_length=16)] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Response:
    """Allocate a demand (JSON `{flow_id, on, max_share, demand: [...]}` or a demand CSV
    with `?flow_id=`) across manufacturers: the allocation JSON of SPEC §4, or with
    `?format=csv` the proposed `orders` table."""
    body = await request.body()
    text, options = _demand_csv(body, request.headers.get("content-type", ""))
    return await run_in_threadpool(
        _allocate, session, viewer, agreement_id, text,
        flow_id=options.get("flow_id") or flow_id, on=options.get("on") or on,
        max_share=options.get("max_share") or max_share, output=format)


def _allocate(session: Session, viewer: User | None, agreement_id: str, demand: str, *,
              flow_id: Any, on: Any, max_share: Any, output: str) -> Response:
    access.require_agreement(session, viewer, agreement_id, "allocations")
    if not isinstance(flow_id, str) or not flow_id:
        raise ApiProblem(422, "name the flow to allocate in: `flow_id`")
    day = _day(on)
    share = _share(max_share)
    agreement, flow = find_flow(session, agreement_id=agreement_id, flow_id=flow_id)
    with tempfile.TemporaryDirectory(prefix="dronedeal-demand-") as folder:
        path = Path(folder) / "demand.csv"
        path.write_text(demand, encoding="utf-8")
        lines = read_demand(path, flow=flow, currency=agreement.currency)
    try:
        result = allocate(session, agreement_id=agreement_id, flow_id=flow_id, demand=lines,
                          on=day, max_share=share).result
    except (UnknownRulesetError, RuleEvaluationError) as cannot:
        raise ApiProblem(422, f"{cannot}; no product can be judged compliant") from None
    if output == "csv":
        rows = [[o.document()[c] for c in ORDER_COLUMNS] for o in result.orders]
        return Response(csv_text(ORDER_COLUMNS, rows), media_type="text/csv")
    return Response(json.dumps(result.as_json(), ensure_ascii=False),
                    media_type="application/json")


@router.get("/ledger/transfers", response_model=Page)
def list_transfers(session: Reading, viewer: Viewer, cursor: Cursor = None,
                   limit: Limit = 50,
                   agreement_id: QueryId = None) -> Page:
    """Ledger transfers in log order, each with its leaf index."""
    return page(*access.list_transfers(session, viewer, agreement_id=agreement_id,
                                       after=decode_cursor(cursor, int), limit=limit))


_EXPORT_TYPES: Final = {"jsonl": "application/x-ndjson", "beancount": "text/plain"}


@router.get("/ledger/export", response_class=StreamingResponse,
            responses={200: {"content": {t: {} for t in _EXPORT_TYPES.values()}}})
def export_ledger(
    request: Request, session: Reading, viewer: Viewer, *,
    format: Annotated[Literal["jsonl", "beancount"], Query()] = "jsonl",
    agreement_id: QueryId = None,
) -> StreamingResponse:
    """The ledger as JSON lines or as a Beancount file (`ledger export`), streamed. An
    officer names one of its agreements."""
    user = access.require(viewer, "transfers")
    if agreement_id is not None:
        access.require_agreement(session, user, agreement_id, "transfers")
    elif access.agreement_ids(session, user) is not None:
        raise ApiProblem(422, "name the agreement to export: `agreement_id`")
    config = settings(request)
    export = ledger.export_jsonl if format == "jsonl" else ledger.export_beancount

    def stream() -> Iterator[str]:
        with config.readers() as reader, reader.begin():
            yield from export(reader, agreement_id)

    return StreamingResponse(stream(), media_type=_EXPORT_TYPES[format])


@router.get("/ocds/{agreement_id}",
            responses={200: {"content": {"application/json": {}}}, 304: {}})
def get_ocds(agreement_id: AgreementId, request: Request, session: Reading, viewer: Viewer,
             audience: Annotated[Literal["public", "auditor"], Query()] = "public"
             ) -> Response:
    """The OCDS 1.1 release package of an agreement (SPEC §9). `public` is redacted and
    open to anyone; `auditor` withholds nothing and needs the deal office's rights."""
    if audience == "auditor":
        access.require_agreement(session, viewer, agreement_id, "ocds_auditor")
    package = publication.release_package(
        session, agreement_id, audience, published=access.last_recorded(session),
        salt=publication.publication_salt(settings(request).key))
    return with_etag(request, publication.package_json(package, None),
                     media_type="application/json")


@router.get("/summary")
def get_summary(session: Reading) -> dict[str, Any]:
    """The deal at a glance, public: record counts and each agreement's ceiling and
    ordered value."""
    return summary.deal_summary(session)
