"""Cursor pagination and ETags, the two HTTP conventions every list and report shares.

A cursor is opaque to clients: URL-safe base64 of the JSON list of the last key of the
previous page. A cursor that does not decode to a key of the listing's shape is a 400
problem, never a database error. A report's ETag is a hash of its JSON body, so a
client that sends it back in `If-None-Match` gets 304 without the body; a report is
rendered once into a `Rendered` (body and ETag), which the report cache keeps.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import Query, Request, Response
from pydantic import BaseModel

from dronedeal.api.problems import ApiProblem
from dronedeal.services.access import MAX_LIMIT, Key

DEFAULT_LIMIT: Final = 50
MAX_CURSOR: Final = 1024


class Page(BaseModel):
    """One page of a list: the items and the cursor of the next page (null: no more)."""

    items: list[dict[str, Any]]
    next_cursor: str | None


Cursor = Annotated[str | None, Query(
    max_length=MAX_CURSOR, description="`next_cursor` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]


def encode_cursor(key: Key | None) -> str | None:
    if key is None:
        return None
    raw = json.dumps(list(key), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None, *types: type) -> Key | None:
    """The key in `cursor`, checked against the listing's key `types`; 400 otherwise."""
    if cursor is None or cursor == "":
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        value = None
    if (not isinstance(value, list) or len(value) != len(types)
            or not all(type(v) is t for v, t in zip(value, types, strict=True))):
        raise ApiProblem(400, "the cursor is not one this list gave out; "
                              "start again without it")
    return tuple(value)


def page(items: list[dict[str, Any]], key: Key | None) -> Page:
    return Page(items=items, next_cursor=encode_cursor(key))


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(request: Request, tag: str) -> bool:
    wanted = request.headers.get("if-none-match")
    if wanted is None:
        return False
    candidates = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    return "*" in candidates or tag in candidates


@dataclass(frozen=True, slots=True)
class Rendered:
    """A report's answer, rendered once: its body, ETag and media type. Cached as it is
    (`api.cache`), so a repeated request costs no JSON encoding and no hashing."""

    body: bytes
    etag: str
    media_type: str

    def answer(self, request: Request) -> Response:
        """200 with the body and ETag, or 304 without a body when If-None-Match holds it."""
        if _matches(request, self.etag):
            return Response(status_code=304, headers={"ETag": self.etag})
        return Response(self.body, media_type=self.media_type, headers={"ETag": self.etag})


def render(document: Any, *, media_type: str = "application/json") -> Rendered:
    """`document` as JSON (or as text, when it is a str) with its ETag."""
    if isinstance(document, str):
        body = document.encode()
    else:
        body = json.dumps(document, ensure_ascii=False, allow_nan=False, indent=None,
                          separators=(",", ":")).encode()
    return Rendered(body, _etag(body), media_type)


def with_etag(request: Request, document: Any, *, media_type: str = "application/json"
              ) -> Response:
    """`document` as JSON (or text, when it is a str) with an ETag; 304 when it matches."""
    return render(document, media_type=media_type).answer(request)
