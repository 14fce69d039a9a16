"""The verifiable log over HTTP (SPEC §6): checkpoint, verifier key, proofs, entries.

Public: the signed checkpoint, the verifier key and consistency proofs — they hold only
sizes, hashes and a signature, and let anyone check that the log only grows. For
auditors and admins: inclusion proofs and entries, because they carry the leaf itself
(a record's canonical JSON, with serials, prices and manufacturer names that the public
record withholds).
"""

from __future__ import annotations

from itertools import islice
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from dronedeal.api.deps import Reading, Viewer, settings
from dronedeal.api.paging import Cursor, Limit, Page, decode_cursor, page, with_etag
from dronedeal.api.problems import ApiProblem
from dronedeal.services import access, audit

router = APIRouter(prefix="/audit", tags=["audit"])

MAX_SIZE = (1 << 63) - 1
Size = Annotated[int, Query(ge=0, le=MAX_SIZE)]
_TEXT: dict[int | str, dict[str, Any]] = {200: {"content": {"text/plain": {}}}, 304: {}}


@router.get("/checkpoint", response_class=Response, responses=_TEXT)
def get_checkpoint(request: Request, session: Reading,
                   size: Annotated[int | None, Query(ge=1, le=MAX_SIZE)] = None) -> Response:
    """The latest signed checkpoint (C2SP signed note), or the one signed at `size`."""
    return with_etag(request, audit.checkpoint(session, size),
                     media_type="text/plain; charset=utf-8")


@router.get("/pubkey", response_class=Response, responses=_TEXT)
def get_pubkey(request: Request) -> Response:
    """The checkpoint verifier key, in the C2SP signed-note `vkey` form."""
    try:
        signer = settings(request).signer()
    except (FileNotFoundError, ValueError):
        raise ApiProblem(404, "this server has no signing key yet; run `dronedeal init`"
                         ) from None
    return Response(signer.vkey() + "\n", media_type="text/plain; charset=utf-8")


@router.get("/proofs/inclusion")
def get_inclusion(session: Reading, viewer: Viewer, leaf: Annotated[int, Query(ge=0,
                  le=MAX_SIZE)], size: Annotated[int | None, Query(ge=1, le=MAX_SIZE)] = None
                  ) -> dict[str, Any]:
    """RFC 9162 inclusion proof of leaf `leaf` in the tree of `size` (default: latest)."""
    access.require(viewer, "audit_leaves")
    return audit.inclusion_proof(session, leaf, size)


@router.get("/proofs/consistency")
def get_consistency(session: Reading,
                    from_: Annotated[int, Query(alias="from", ge=0, le=MAX_SIZE)],
                    to: Size) -> dict[str, Any]:
    """RFC 9162 consistency proof from tree size `from` to tree size `to`."""
    return audit.consistency_proof(session, from_, to)


@router.get("/entries", response_model=Page)
def get_entries(session: Reading, viewer: Viewer, *,
                from_: Annotated[int, Query(alias="from", ge=0, le=MAX_SIZE)] = 0,
                to: Annotated[int | None, Query(ge=0, le=MAX_SIZE)] = None,
                cursor: Cursor = None, limit: Limit = 50) -> Page:
    """Leaves `from` … `to`−1 as `{index, leaf}` (SPEC §6 `audit entries`), paged."""
    access.require(viewer, "audit_leaves")
    after = decode_cursor(cursor, int)
    start = from_ if after is None else max(from_, int(after[0]) + 1)
    items = list(islice(audit.entries(session, start, to), limit + 1))
    more = len(items) > limit
    items = items[:limit]
    return page(items, (items[-1]["index"],) if more else None)
