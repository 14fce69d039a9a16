"""RFC 9457 problem details: every error the API answers is `application/problem+json`.

A problem is `{type, title, status, detail, instance}` plus, for refused data, the row
errors `errors: [{file, row, column, message}]`. Domain errors carry their HTTP status
(`http_status`); anything unexpected is a 500 whose body names only the request id, so
no stack trace or SQL ever reaches a client (the log has them).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from dronedeal.core.errors import RefusedError
from dronedeal.core.fx import MissingRateError
from dronedeal.services import access, audit, position
from dronedeal.services.allocation import UnknownFlowError
from dronedeal.services.compliance import UnknownAgreementError

PROBLEM_JSON: Final = "application/problem+json"
log = logging.getLogger("dronedeal.api")


class RowErrorModel(BaseModel):
    file: str
    row: int
    column: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    model_config = ConfigDict(extra="allow")
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[RowErrorModel] | list[dict[str, Any]] | None = None


class ApiProblem(Exception):
    """Raise to answer with a problem (status, detail, optional extra members)."""

    def __init__(self, status: int, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.extra = extra


def _documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": Problem, "description": HTTPStatus(status).phrase,
                     "content": {PROBLEM_JSON: {}}} for status in statuses}


#: the problem responses every route may give, for the OpenAPI document
COMMON_RESPONSES: Final = _documented(400, 401, 403, 404, 422, 500)


def problem_response(request: Request, status: int, detail: str | None,
                     **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase,
                            "status": status, "detail": detail,
                            "instance": request.url.path}
    body.update(extra)
    headers = {"WWW-Authenticate": 'Bearer realm="dronedeal"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem."""

    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(request, exc.status, exc.detail, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        response = problem_response(request, exc.status_code, detail)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"location": ".".join(str(p) for p in e.get("loc", ())),
                   "message": str(e.get("msg", ""))} for e in exc.errors()]
        return problem_response(request, 422, "the request is not valid", errors=errors)

    @app.exception_handler(RefusedError)
    async def _refused(request: Request, exc: RefusedError) -> JSONResponse:
        return problem_response(
            request, 422, f"{len(exc.errors)} error(s); nothing was imported",
            errors=[e.as_json() for e in exc.errors], total=len(exc.errors))

    @app.exception_handler(access.AccessError)
    async def _access(request: Request, exc: access.AccessError) -> JSONResponse:
        return problem_response(request, exc.http_status, str(exc))

    @app.exception_handler(audit.AuditError)
    async def _audit(request: Request, exc: audit.AuditError) -> JSONResponse:
        return problem_response(request, exc.http_status, str(exc))

    async def _not_found(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(request, 404, str(exc))

    for missing in (position.UnknownAgreementError, UnknownAgreementError, UnknownFlowError):
        app.add_exception_handler(missing, _not_found)

    @app.exception_handler(MissingRateError)
    async def _rate(request: Request, exc: MissingRateError) -> JSONResponse:
        return problem_response(request, 422, str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None)
        log.exception("unhandled error", extra={"request_id": request_id})
        response = problem_response(request, 500, "an internal error occurred; quote the "
                                    f"request id {request_id} to the operator")
        if request_id:
            response.headers["X-Request-ID"] = request_id
        return response
