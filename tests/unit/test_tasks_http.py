"""The HTTP Request task against a loopback test server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from schemas.states import State
from streams.plugins.http import Request
from tests.unit.test_tasks_helpers import Recorder, make_ctx


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/missing":
            self._answer(404, b"not here", "text/plain")
            return
        seen = {"path": self.path, "auth": self.headers.get("Authorization")}
        self._answer(200, json.dumps(seen).encode(), "application/json")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        echo = {"body": body, "type": self.headers.get("Content-Type")}
        self._answer(201, json.dumps(echo).encode(), "application/json")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


def _request(**props: Any) -> Request:
    return Request.model_validate({"id": "h", "type": "http.Request", **props})


async def test_get_parses_json_and_sends_headers(server: str, tmp_path: Path) -> None:
    task = _request(uri=f"{server}/hello?x=1", headers={"Authorization": "Bearer t"})
    outcome = await task.run(make_ctx(tmp_path, Recorder()))
    assert outcome.state == State.SUCCESS, outcome.error
    assert outcome.outputs["code"] == 200
    assert outcome.outputs["body"] == {"path": "/hello?x=1", "auth": "Bearer t"}
    assert outcome.outputs["headers"]["content-type"] == ["application/json"]


async def test_post_json_body_and_form(server: str, tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, Recorder())
    outcome = await _request(uri=server, method="POST", body={"a": 1}).run(ctx)
    assert outcome.outputs["code"] == 201
    assert outcome.outputs["body"] == {"body": '{"a": 1}', "type": "application/json"}
    form = await _request(uri=server, method="POST", formData={"a": "b c"}).run(ctx)
    assert form.outputs["body"]["body"] == "a=b+c"
    assert form.outputs["body"]["type"] == "application/x-www-form-urlencoded"


async def test_status_codes_decide_failure(server: str, tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, Recorder())
    failed = await _request(uri=f"{server}/missing").run(ctx)
    assert failed.state == State.FAILED and failed.error and "answered 404" in failed.error
    allowed = await _request(uri=f"{server}/missing", options={"allowedResponseCodes": [404]}).run(
        ctx
    )
    assert allowed.state == State.SUCCESS and allowed.outputs["body"] == "not here"


async def test_closed_port_fails_with_the_reason(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens
    outcome = await _request(
        uri=f"http://127.0.0.1:{port}/", options={"connectTimeout": "PT2S"}
    ).run(make_ctx(tmp_path, Recorder()))
    assert outcome.state == State.FAILED
    assert outcome.error is not None and "failed" in outcome.error
