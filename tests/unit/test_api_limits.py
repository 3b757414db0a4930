"""Request body limit, search pages and dates, input size and depth, storage paths.

The ASGI middleware is driven here message by message, as a server would; the same
behaviour through a real server is in tests/integration/test_api_limits.py.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from api.web.body_limit import BodyLimit, takes_files
from api.web.queries import (
    MAX_RESULT_WINDOW,
    BadParameter,
    ExecutionFilter,
    PageTooDeep,
    page_offset,
    utc_iso,
)
from schemas.settings import Limits
from schemas.storage import StorageError
from streams.storage.local import LocalStorage
from streams.writers.executions import InputsTooDeep, InputsTooLarge, check_input_size

LIMITS = Limits(request_body_bytes=2048, upload_bytes=8192)


class Echo:
    """An app that reads the whole body and answers with its length."""

    def __init__(self) -> None:
        self.read = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            self.read += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(self.read).encode()})


async def _drive(
    app: Any,
    chunks: list[bytes],
    headers: list[tuple[bytes, bytes]],
    path: str = "/api/v1/flows",
    method: str = "POST",
) -> tuple[int, bytes, int]:
    scope: Scope = {"type": "http", "method": method, "path": path, "headers": headers}
    pending = list(chunks)
    given = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal given
        chunk = pending.pop(0) if pending else b""
        given += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    await BodyLimit(app, LIMITS)(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, given


async def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    app = Echo()
    status, body, given = await _drive(app, [b"x" * 4096], [(b"content-length", b"4096")])
    assert status == 413 and given == 0 and app.read == 0
    payload = json.loads(body)
    assert payload["limit"] == "request_body_bytes" and payload["maxBytes"] == 2048
    assert "LANNER_LIMITS_REQUEST_BODY_BYTES" in payload["message"]


async def test_a_chunked_body_is_cut_at_the_limit() -> None:
    app = Echo()
    status, body, given = await _drive(app, [b"x" * 1000] * 50, [])
    assert status == 413 and given <= 3000, given
    assert json.loads(body)["limit"] == "request_body_bytes"


async def test_a_body_within_the_limit_passes() -> None:
    status, body, _ = await _drive(Echo(), [b"x" * 1000, b"y" * 1000], [])
    assert (status, body) == (200, b"2000")


async def test_file_uploads_have_their_own_limit_on_the_routes_that_take_files() -> None:
    multipart = [(b"content-type", b"multipart/form-data; boundary=x")]
    upload_path = "/api/v1/executions/company.team/hello"
    status, _, _ = await _drive(Echo(), [b"x" * 6000], multipart, upload_path)
    assert status == 200
    status, body, _ = await _drive(Echo(), [b"x" * 9000], multipart, upload_path)
    assert status == 413 and json.loads(body)["limit"] == "upload_bytes"
    # Elsewhere a multipart body is held to the ordinary limit.
    status, body, _ = await _drive(Echo(), [b"x" * 6000], multipart, "/api/v1/flows")
    assert status == 413 and json.loads(body)["limit"] == "request_body_bytes"


def test_which_routes_take_files() -> None:
    assert takes_files("POST", "/api/v1/executions/company.team/hello")
    assert takes_files("POST", "/api/v1/executions/abc/resume")
    for action in ("kill", "pause", "restart", "replay", "state"):
        assert not takes_files("POST", f"/api/v1/executions/abc/{action}")
    assert not takes_files("GET", "/api/v1/executions/company.team/hello")
    assert not takes_files("POST", "/api/v1/flows/validate")


def test_pages_past_the_result_window_are_a_400_naming_it() -> None:
    assert page_offset(1, 25) == 0 and page_offset(400, 25) == 9975
    with pytest.raises(PageTooDeep) as caught:
        page_offset(10_000_000_000, 296)
    assert caught.value.status == 400 and caught.value.name == "page"
    assert "max_result_window" in caught.value.message and str(MAX_RESULT_WINDOW) in str(
        caught.value
    )


def test_dates_with_any_offset_are_sent_in_utc() -> None:
    when = dt.datetime.fromisoformat("2000-08-18T18:17:40.110+23:43")
    assert utc_iso(when, "endDate") == "2000-08-17T18:34:40.110000+00:00"
    assert utc_iso(dt.datetime(2000, 1, 1), "x") == "2000-01-01T00:00:00+00:00"
    query = ExecutionFilter(end_date=when).query()
    assert query["bool"]["filter"][0]["range"]["state.startDate"]["lte"].endswith("+00:00")
    with pytest.raises(BadParameter) as caught:
        utc_iso(dt.datetime.fromisoformat("0001-01-01T00:00:00+23:59"), "startDate")
    assert caught.value.name == "startDate" and caught.value.status == 422


def test_inputs_over_input_bytes_are_refused_naming_the_limit() -> None:
    limits = Limits(input_bytes=1024)
    check_input_size("flow a.b", {"name": "x" * 900}, limits)
    with pytest.raises(InputsTooLarge) as caught:
        check_input_size("flow a.b", {"name": "x" * 5000}, limits)
    assert caught.value.limit == "input_bytes" and "LANNER_LIMITS_INPUT_BYTES" in str(caught.value)
    with pytest.raises(InputsTooLarge):  # labels count too
        check_input_size("flow a.b", {}, limits, {"k": "v" * 2000})


def test_inputs_nested_past_input_depth_are_refused() -> None:
    deep: Any = "leaf"
    for _ in range(40):
        deep = [deep]
    with pytest.raises(InputsTooDeep) as caught:
        check_input_size("flow a.b", {"name": deep}, Limits())
    assert "input_depth" in str(caught.value) and caught.value.errors
    check_input_size("flow a.b", {"name": deep}, Limits(input_depth=50))


def test_local_storage_refuses_folders_and_nul_bytes(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put_bytes("kestra://main/ns/f/executions/e/inputs/a/x.txt", b"x")
    for uri in ("kestra://main/ns/f/executions/e/inputs", "kestra://main/ns/f/executions/e/a\x00b"):
        with pytest.raises(StorageError):
            storage.get_bytes(uri)
        with pytest.raises(StorageError):
            storage.size(uri)
        with pytest.raises(StorageError):
            storage.get_file(uri, tmp_path / "copy")


def test_the_app_refuses_big_bodies_before_any_route_and_speaks_one_error_shape() -> None:
    from fastapi.testclient import TestClient

    from api.web.app import create_app
    from schemas.settings import LannerSettings

    # No lifespan (no `with`): nothing behind the routes is needed for these answers.
    client = TestClient(create_app(LannerSettings(limits=LIMITS)))
    # The webhook route too: it has no limit of its own, this one is it.
    for path in (
        "/api/v1/flows",
        "/api/v1/acme/flows/validate",
        "/api/v1/executions/a/b",
        "/api/v1/executions/webhook/a.b/c/key",
        "/api/v1/acme/executions/webhook/a.b/c/key",
    ):
        response = client.post(path, content=b"x" * 4096)
        assert response.status_code == 413, (path, response.text)
        assert response.json()["limit"] == "request_body_bytes"
    missing = client.get("/api/v1/no/such/route")
    assert missing.status_code == 404 and missing.json() == {"message": "Not Found"}


def test_download_names_cannot_break_the_header() -> None:
    from api.web.routes_executions import attachment

    assert attachment("out.txt") == "attachment; filename=\"out.txt\"; filename*=UTF-8''out.txt"
    odd = attachment('a"b\r\nSet-Cookie: x=1;é.txt')
    assert "\r" not in odd and "\n" not in odd and odd.count('"') == 2
    assert "filename*=UTF-8''a%22b%0D%0ASet-Cookie%3A%20x%3D1%3B%C3%A9.txt" in odd
