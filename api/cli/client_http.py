"""The Lanner API over HTTP for the command line: where it is (LANNER_URL, the tenant, the
token), how a request fails (ClientError, with the exit code the command ends with), and
server-sent events."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Self

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"
API = "/api/v1"

EXIT_API_ERROR = 1  # the API answered no (404, 409, 422 ...)
EXIT_UNREACHABLE = 3  # nothing answered at LANNER_URL


class ClientError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: Any = None,
        exit_code: int = EXIT_API_ERROR,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.exit_code = exit_code


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: Any


def base_url(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return (env.get("LANNER_URL") or DEFAULT_URL).rstrip("/")


class ApiConnection:
    def __init__(
        self,
        url: str | None = None,
        *,
        timeout_s: float = 30.0,
        tenant: str | None = None,
        token: str | None = None,
    ) -> None:
        self.url = (url or base_url()).rstrip("/")
        # Kestra's path shape, always with the tenant (LANNER_TENANT_ID / --tenant), and
        # the bearer token of LANNER_TOKEN when there is one.
        self.tenant = tenant or os.environ.get("LANNER_TENANT_ID") or "main"
        secret = token if token is not None else os.environ.get("LANNER_TOKEN", "")
        headers = {"authorization": f"Bearer {secret}"} if secret else {}
        self._http = httpx.Client(
            base_url=f"{self.url}{API}/{self.tenant}", timeout=timeout_s, headers=headers
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ---------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ClientError(
                f"cannot reach the Lanner API at {self.url} ({exc}); is "
                "`lanner server local` running, or LANNER_URL set?",
                exit_code=EXIT_UNREACHABLE,
            ) from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        return response.json() if response.content else None

    def follow(self, execution_id: str, *, logs: bool = False) -> Iterator[SseEvent]:
        """Server-sent events of an execution (or of its logs) until it ends."""
        path = f"/logs/{execution_id}/follow" if logs else f"/executions/{execution_id}/follow"
        try:
            with self._http.stream("GET", path, timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                event, data = "message", []
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        data.append(line.split(":", 1)[1].strip())
                    elif not line and data:
                        yield SseEvent(event, _parse("\n".join(data)))
                        event, data = "message", []
        except httpx.TransportError as exc:
            raise ClientError(
                f"lost the stream from {self.url}: {exc}", exit_code=EXIT_UNREACHABLE
            ) from None


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _error(response: httpx.Response) -> ClientError:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    message = body.get("message") if isinstance(body, dict) else None
    if response.status_code == 401:
        message = f"{message or 'unauthorized'} (set LANNER_TOKEN; `lanner token create`)"
    return ClientError(
        f"{response.status_code}: {message or response.reason_phrase}",
        status=response.status_code,
        body=body,
    )
