"""Local stand-ins for the services notifications go to: an HTTP server that records
webhook posts (and answers what it is told), and an SMTP server (aiosmtpd) that records
messages and checks a login. Loopback only; each stops when its context ends."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.harness.common import free_ports


@dataclass
class WebhookServer:
    url: str
    posts: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    # path -> (status, body) answered instead of 200 "ok".
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)

    def json_posts(self, path: str) -> list[Any]:
        return [json.loads(body) for p, _, body in self.posts if p == path]


@contextmanager
def webhook_server() -> Iterator[WebhookServer]:
    server_box: list[WebhookServer] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(size)
            state = server_box[0]
            state.posts.append((self.path, dict(self.headers.items()), body))
            status, text = state.answers.get(self.path, (200, "ok"))
            data = text.encode()
            self.send_response(status)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_box.append(WebhookServer(f"http://127.0.0.1:{httpd.server_address[1]}"))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_box[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@dataclass
class SmtpServer:
    port: int
    username: str
    password: str
    messages: list[tuple[str, list[str], Message]] = field(default_factory=list)


class _Recorder:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        # The default policy unfolds long headers (a Subject is folded on the wire).
        raw = envelope.original_content or envelope.content
        message = message_from_bytes(raw, policy=policy.default)
        self.server.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(username: str = "robot", password: str = "s3cret") -> Iterator[SmtpServer]:
    """A plain SMTP server (use transportStrategy SMTP) that checks this login."""
    [port] = free_ports(1)
    state = SmtpServer(port, username, password)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (
            data.login.decode() == username and data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        _Recorder(state),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        # A login over plain SMTP on loopback; checked whenever a client logs in (one
        # that does not is accepted, which keeps aiosmtpd from warning about it).
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield state
    finally:
        controller.stop()
