"""Request plumbing: request ids, the JSON access log, and the request body size limit.

Every response carries `X-Request-ID` (the client's, when it sent a sane one, else a
new one), and every request writes one JSON line to the `dronedeal.api.access` logger:
time, request id, user, method, path, status, bytes in and duration. A body larger than
the limit (`DRONEDEAL_MAX_UPLOAD_MB`, default 200) is refused with 413 before it is
read when `Content-Length` says so, and as soon as it passes the limit when it is
streamed; either way nothing of it is imported.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("dronedeal.api.access")
_SANE_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class BodyTooLargeError(Exception):
    """The request body passed the size limit."""


def _problem(status: int, title: str, detail: str, path: str) -> bytes:
    return json.dumps({"type": "about:blank", "title": title, "status": status,
                       "detail": detail, "instance": path}).encode()


class RequestPlumbing:
    """Pure ASGI middleware: request id, size limit and access log around each request."""

    def __init__(self, app: ASGIApp, *, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given, length = "", b""
        for name, value in scope.get("headers", ()):
            # ASGI servers give header names in lower case
            if name == b"x-request-id":
                given = value.decode("latin-1")
            elif name == b"content-length":
                length = value
        request_id = given if _SANE_ID.fullmatch(given) else uuid.uuid4().hex
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        outcome = {"status": 500, "bytes_in": 0}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                raw = [(k, v) for k, v in message.get("headers", [])
                       if k.lower() != b"x-request-id"]
                raw.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": raw}
            await send(message)

        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                outcome["bytes_in"] += len(message.get("body", b""))
                if outcome["bytes_in"] > self.max_body:
                    raise BodyTooLargeError
            return message

        try:
            declared = int(length or b"0")
        except ValueError:
            declared = 0
        try:
            if declared > self.max_body:
                await self._too_large(scope, send_with_id)
            else:
                try:
                    await self.app(scope, limited_receive, send_with_id)
                except BodyTooLargeError:
                    await self._too_large(scope, send_with_id)
        finally:
            access_log.info(json.dumps({
                "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "request_id": request_id, "user": state.get("user", "anonymous"),
                "method": scope.get("method"), "path": scope.get("path"),
                "status": outcome["status"], "bytes_in": outcome["bytes_in"],
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            }))

    async def _too_large(self, scope: Scope, send: Send) -> None:
        limit_mb = self.max_body / (1024 * 1024)
        body = _problem(413, "Content Too Large",
                        f"the request body is larger than the limit of {limit_mb:g} MB "
                        "(DRONEDEAL_MAX_UPLOAD_MB); nothing was imported", scope["path"])
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
