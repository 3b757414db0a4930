"""One error shape for every route: the ErrorBody model (api/web/models.py), whatever
raised it (our ApiError, Starlette's refusals, a parameter FastAPI could not read, a body
over its limit), with the right status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.web.body_limit import BodyTooLarge
from api.web.models import ErrorBody, ParameterError
from api.web.queries import BadParameter


class ApiError(Exception):
    """An answer other than success: its status and its ErrorBody. The details are the
    ErrorBody's fields (errors, problems, limit, maxBytes, size, seq, lastSeq, id, state),
    checked when the error is raised, so a misspelt one fails where it is written."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = ErrorBody.model_validate({"message": message, **details})


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def error_response(
    status: int, body: ErrorBody, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    # Only the fields the error carries: a 404 is {"message": ...}, not ten nulls.
    return JSONResponse(
        body.model_dump(mode="json", exclude_unset=True), status_code=status, headers=headers
    )


def _parameter(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("query", "state", 0) -> "state"; ("body",) -> "body"
    parts = [str(p) for p in loc if not isinstance(p, int)]
    return parts[1] if len(parts) > 1 else (parts[0] if parts else "?")


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.body)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug: the same shape for the client. Starlette raises it again after this
        # answer, so the server's log has its trace.
        message = f"unexpected error ({type(exc).__name__}) on {request.method} {request.url.path}"
        return error_response(500, ErrorBody(message=message))

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # Starlette's and FastAPI's own refusals (unknown route, bad multipart, ...) in
        # the same shape as ours, instead of {"detail": ...}.
        return error_response(exc.status_code, ErrorBody(message=str(exc.detail)), exc.headers)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return error_response(413, exc.error_body(), {"connection": "close"})

    @app.exception_handler(BadParameter)
    async def _bad_parameter(request: Request, exc: BadParameter) -> JSONResponse:
        body = ErrorBody(
            message=str(exc), errors=[ParameterError(parameter=exc.name, message=exc.message)]
        )
        return error_response(exc.status, body)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            ParameterError(parameter=_parameter(e.get("loc", ())), message=str(e.get("msg")))
            for e in exc.errors()
        ]
        names = ", ".join(dict.fromkeys(repr(e.parameter) for e in errors))
        body = ErrorBody(message=f"invalid parameter {names}", errors=list(errors))
        return error_response(422, body)
