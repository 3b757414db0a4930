"""One error shape for every route: {"message": ..., plus details}, with the right status."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.web.body_limit import BodyTooLarge
from api.web.queries import BadParameter


class ApiError(Exception):
    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def _parameter(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("query", "state", 0) -> "state"; ("body",) -> "body"
    parts = [str(p) for p in loc if not isinstance(p, int)]
    return parts[1] if len(parts) > 1 else (parts[0] if parts else "?")


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"message": exc.message, **exc.details}, status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        # Starlette's and FastAPI's own refusals (unknown route, bad multipart, ...) in
        # the same shape as ours, instead of {"detail": ...}.
        return JSONResponse(
            {"message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return JSONResponse(exc.payload(), status_code=413, headers={"connection": "close"})

    @app.exception_handler(BadParameter)
    async def _bad_parameter(request: Request, exc: BadParameter) -> JSONResponse:
        return JSONResponse(
            {"message": str(exc), "errors": [{"parameter": exc.name, "message": exc.message}]},
            status_code=exc.status,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"parameter": _parameter(e.get("loc", ())), "message": str(e.get("msg"))}
            for e in exc.errors()
        ]
        names = ", ".join(dict.fromkeys(repr(e["parameter"]) for e in errors))
        return JSONResponse(
            {"message": f"invalid parameter {names}", "errors": errors}, status_code=422
        )
