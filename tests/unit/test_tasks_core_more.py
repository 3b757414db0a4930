"""debug.Echo, kv.GetKeys, state.Get/Set/Delete, http.Download and TemplatedTask."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from schemas.states import State
from streams.core.validation import validate_flow
from streams.plugins.base import KvPort, Outcome, Task, WorkerContext
from streams.plugins.core.murmur import hash_to_string
from streams.plugins.core.state import StateDelete, StateGet, StateSet, merge, slugify
from streams.plugins.core.templating import TemplatedTask
from streams.plugins.http import Download
from streams.plugins.http.download import filename_from_header
from streams.plugins.kv.events import KvSet
from streams.plugins.kv.store import LiveKvStore
from streams.plugins.kv.tasks import KvGetKeysTask
from streams.plugins.kv.view import KvFold
from streams.plugins.registry import PluginRegistry
from tests.unit.core.helpers import flow, run
from tests.unit.test_tasks_helpers import Recorder, make_ctx

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class MemoryKv:
    """A KvPort in memory (the real one is LiveKvStore on kv-events)."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], Any] = {}

    async def set(self, namespace: str, key: str, value: Any, expires: dt.datetime | None) -> None:
        self.values[(namespace, key)] = value

    async def get(self, namespace: str, key: str) -> tuple[bool, Any]:
        found = (namespace, key) in self.values
        return found, self.values.get((namespace, key))

    async def delete(self, namespace: str, key: str) -> bool:
        return self.values.pop((namespace, key), _GONE) is not _GONE

    async def keys(self, namespace: str) -> list[str]:
        return sorted(k for ns, k in self.values if ns == namespace)


_GONE = object()


def _ctx(tmp: Path, kv: KvPort | None = None, **extra: Any) -> WorkerContext:
    return dataclasses.replace(make_ctx(tmp, Recorder(), kv=kv or MemoryKv()), **extra)


async def _run(cls: type[Task], ctx: WorkerContext, **props: Any) -> Outcome:
    task = cls.model_validate({"id": "t1", "type": cls.TYPE, **props})
    outcome: Outcome = await task.run(ctx)  # type: ignore[attr-defined]
    return outcome


# --- debug.Echo ------------------------------------------------------------------------


def test_echo_logs_its_rendered_format_at_its_level_inline() -> None:
    sim = run(
        """
        tasks:
          - id: echo
            type: io.kestra.core.tasks.debugs.Echo
            level: WARN
            format: "{{ task.id }} > {{ 1 + 1 }}"
          - id: number
            type: io.kestra.plugin.core.debug.Echo
            format: "{{ 40 + 2 }}"
        """
    )
    assert sim.state().state == State.SUCCESS
    assert sim.jobs == []  # inline: no worker
    logs = [e.logs for e in sim.events["e1"] if e.type == "TaskRunSucceeded"]
    assert [(line.level, line.message) for batch in logs for line in batch] == [
        ("WARN", "echo > 2"),
        ("INFO", "42"),
    ]


def test_echo_refuses_a_blank_format() -> None:
    source = flow(
        """
        tasks:
          - id: echo
            type: io.kestra.plugin.core.debug.Echo
            format: "  "
        """
    )
    problems = validate_flow(source, PluginRegistry.discover())
    assert isinstance(problems, list)
    assert any("format must not be blank" in str(p) for p in problems)


# --- kv.GetKeys ------------------------------------------------------------------------


async def test_get_keys_lists_a_namespace_with_a_prefix(tmp_path: Path) -> None:
    kv = MemoryKv()
    for key in ("my-key", "my-second-key", "another"):
        await kv.set("company.team", key, 1, None)
    await kv.set("other", "my-other", 1, None)
    ctx = _ctx(tmp_path, kv)
    assert (await _run(KvGetKeysTask, ctx)).outputs == {
        "keys": ["another", "my-key", "my-second-key"]
    }
    assert (await _run(KvGetKeysTask, ctx, prefix="my-")).outputs == {
        "keys": ["my-key", "my-second-key"]
    }
    assert (await _run(KvGetKeysTask, ctx, namespace="other")).outputs == {"keys": ["my-other"]}
    no_store = await _run(KvGetKeysTask, dataclasses.replace(ctx, kv=None))
    assert no_store.state == State.FAILED


class _CaughtUpFold(KvFold):
    def catch_up(self, timeout_s: float) -> bool:
        return True


async def test_the_live_store_lists_unexpired_keys_of_its_tenant() -> None:
    fold = _CaughtUpFold()
    for tenant, key, expires in [
        ("main", "b", None),
        ("main", "a", NOW + dt.timedelta(hours=1)),
        ("main", "old", NOW - dt.timedelta(hours=1)),
        ("other", "c", None),
    ]:
        fold.apply(
            KvSet(tenant=tenant, namespace="ns", key=key, value=1, time=NOW, expires=expires)
        )

    async def send(key: str, value: bytes) -> None:
        pass

    store = LiveKvStore(fold, send, "main", lambda: NOW)  # type: ignore[arg-type]
    assert await store.keys("ns") == ["a", "b"]


# --- state.* ---------------------------------------------------------------------------


async def test_state_set_merges_get_reads_delete_removes(tmp_path: Path) -> None:
    kv = MemoryKv()
    ctx = _ctx(tmp_path, kv)
    assert (await _run(StateGet, ctx)).outputs == {"count": 0, "data": {}}
    first = await _run(StateSet, ctx, data={"test": 1})
    assert first.outputs == {"count": 1, "key": "flow1_states_default"}
    assert kv.values[("company.team", "flow1_states_default")] == {"test": 1}
    second = await _run(StateSet, ctx, data={"test": "2", "test2": "3"})
    assert second.outputs["count"] == 2
    assert (await _run(StateGet, ctx)).outputs == {
        "count": 2,
        "data": {"test": "2", "test2": "3"},
    }
    assert (await _run(StateDelete, ctx)).outputs == {"deleted": True}
    assert (await _run(StateGet, ctx)).outputs == {"count": 0, "data": {}}


async def test_state_errors_on_missing_when_asked(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    get = await _run(StateGet, ctx, name="nope", errorOnMissing=True)
    assert get.state == State.FAILED and "unable to find the state file 'nope'" in (get.error or "")
    delete = await _run(StateDelete, ctx, name="nope", errorOnMissing=True)
    assert delete.state == State.FAILED
    assert (await _run(StateDelete, ctx, name="nope")).outputs == {"deleted": False}


async def test_state_keys_as_kestra_names_them(tmp_path: Path) -> None:
    kv = MemoryKv()
    ctx = _ctx(tmp_path, kv, flow_id="My_Flow", task_run_value="v1")
    out = await _run(StateSet, ctx, name="counts", data={"a": 1})
    assert out.outputs["key"] == f"my-flow_states_counts_{hash_to_string('v1')}"
    shared = await _run(StateSet, ctx, namespace=True, taskrunValue=False, data={"b": 1})
    assert shared.outputs["key"] == "states_default"
    # A state Kestra wrote is JSON text in the KV store: it reads the same.
    kv.values[("company.team", "states_default")] = '{"john": "doe"}'
    assert (await _run(StateGet, ctx, namespace=True, taskrunValue=False)).outputs == {
        "count": 1,
        "data": {"john": "doe"},
    }


def test_murmur3_matches_guavas_hash_and_slugify_kestras() -> None:
    # Guava: Hashing.murmur3_128().hashString(s, UTF_8).toString()
    fox = "The quick brown fox jumps over the lazy dog"
    assert hash_to_string(fox) == "6c1b07bc7bbc4be347939ac4a93c437a"
    assert hash_to_string("") == "0" * 32
    assert len(hash_to_string("a" * 40)) == 32
    assert slugify(" Hello  World_é! ") == "hello-world-e"


def test_merge_is_kestras_map_merge() -> None:
    a = {"m": {"x": 1, "y": 2}, "l": [1], "s": "a", "k": 1}
    b = {"m": {"y": 3}, "l": [2], "s": "b", "k": None, "n": None}
    assert merge(a, b) == {"m": {"x": 1, "y": 3}, "l": [1, 2], "s": "b", "k": 1, "n": None}


# --- http.Download ---------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, code: int, body: bytes, **headers: str) -> None:
        self.send_response(code)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/500":
            self._answer(500, b"Internal Server Error")
        elif self.path == "/204":
            self.send_response(204)
            self.end_headers()
        elif self.path == "/417":
            self._answer(417, b"{}", Content_Type="application/json")
        elif self.path.startswith("/content-disposition"):
            name = "/secure-path/filename.jpg" if "path" in self.path else "filename.jpg"
            self._answer(200, b"Hello World", Content_Disposition=f'attachment; filename="{name}"')
        else:
            self._answer(200, b"a,b\n1,2\n", Content_Type="text/csv")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer(200, b"got " + body + b" " + str(self.headers.get("X-Token")).encode())


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


async def test_download_stores_the_body_with_the_urls_extension(
    server: str, tmp_path: Path
) -> None:
    ctx = _ctx(tmp_path)
    out = await _run(Download, ctx, uri=f"{server}/files/data.csv")
    assert out.state == State.SUCCESS, out.error
    assert out.outputs["code"] == 200 and out.outputs["length"] == 8
    assert out.outputs["headers"]["content-type"] == ["text/csv"]
    assert out.outputs["uri"].startswith(ctx.files_prefix()) and out.outputs["uri"].endswith(".csv")
    assert ctx.storage is not None and ctx.storage.get_bytes(out.outputs["uri"]) == b"a,b\n1,2\n"
    post = await _run(
        Download, ctx, uri=f"{server}/echo", method="POST", body="hi", headers={"X-Token": "t"}
    )
    assert ctx.storage.get_bytes(post.outputs["uri"]) == b"got hi t"


async def test_download_failures_as_kestra(server: str, tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    error = await _run(Download, ctx, uri=f"{server}/500")
    assert error.state == State.FAILED and "answered 500" in (error.error or "")
    empty = await _run(Download, ctx, uri=f"{server}/204")
    assert empty.state == State.FAILED and "no response from server" in (empty.error or "")
    allowed = await _run(Download, ctx, uri=f"{server}/204", failOnEmptyResponse=False)
    assert allowed.state == State.SUCCESS and allowed.outputs["length"] == 0
    failed = await _run(Download, ctx, uri=f"{server}/417", allowFailed=True)
    assert failed.state == State.SUCCESS
    assert failed.outputs["code"] == 417
    assert failed.outputs["headers"]["content-type"] == ["application/json"]
    refused = await _run(
        Download, ctx, uri="http://127.0.0.1:9/x", options={"connectTimeout": "PT1S"}
    )
    assert refused.state == State.FAILED


async def test_download_names_the_file_by_content_disposition(server: str, tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    for path in ("/content-disposition", "/content-disposition-path"):
        out = await _run(Download, ctx, uri=server + path)
        assert out.outputs["uri"].endswith("/filename.jpg")
        assert "secure-path" not in out.outputs["uri"]
    assert filename_from_header("attachment; filename*=UTF-8''na%C3%AFve.txt") == "naïve.txt"
    assert filename_from_header('attachment; filename=".."') is None
    assert filename_from_header("inline") is None


# --- templating.TemplatedTask ----------------------------------------------------------


async def test_templated_task_runs_the_task_its_spec_renders_to(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    spec = "type: io.kestra.plugin.core.debug.Return\nformat: It's alive!"
    out = await _run(TemplatedTask, ctx, spec=spec)
    assert out.state == State.SUCCESS and out.outputs == {"value": "It's alive!"}
    log = await _run(TemplatedTask, ctx, spec="type: log.Log\nmessage: hi\nlevel: WARN")
    assert log.state == State.SUCCESS
    assert ctx.log.lines == [("WARN", "hi")]  # type: ignore[attr-defined]
    kv = await _run(TemplatedTask, ctx, spec="type: io.kestra.plugin.core.state.Set\ndata: {a: 1}")
    assert kv.outputs == {"count": 1, "key": "flow1_states_default"}


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("type: io.kestra.plugin.core.flow.Pause\ndelay: PT10S", "must be a runnable task"),
        (
            "type: io.kestra.plugin.core.templating.TemplatedTask\nspec: whatever",
            "cannot be of type 'io.kestra.plugin.core.templating.TemplatedTask'",
        ),
        ("type: io.kestra.plugin.core.log.Logg\nmessage: x", "did you mean"),
        ("type: io.kestra.plugin.core.log.Log", "invalid templated task"),
        ("[not, a, task]", "must be a task"),
        ("a: [", "not valid YAML"),
    ],
)
async def test_templated_task_refusals(tmp_path: Path, spec: str, reason: str) -> None:
    out = await _run(TemplatedTask, _ctx(tmp_path), spec=spec)
    assert out.state == State.FAILED
    assert reason in (out.error or ""), out.error
