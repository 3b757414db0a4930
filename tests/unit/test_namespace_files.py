"""Namespace files without a broker: paths and Kestra's patterns, the fold of their
events, the namespace.*Files tasks, `namespaceFiles` on a script and `read('path')`,
with the store's real code over an in-memory fold and a local storage folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from schemas.states import State
from streams.deferred_lookups import DeferredError, make_resolver
from streams.plugins.base import Outcome, Task, WorkerContext
from streams.plugins.namespace.events import (
    NAMESPACE_FILE_EVENT_ADAPTER,
    NamespaceFileDeleted,
    NamespaceFileWritten,
)
from streams.plugins.namespace.paths import BadPath, Selection, folder, normalise
from streams.plugins.namespace.store import LiveNamespaceFiles
from streams.plugins.namespace.tasks import DeleteFiles, DownloadFiles, UploadFiles
from streams.plugins.namespace.view import NamespaceFilesFold
from streams.plugins.namespace.working_files import NamespaceFiles, materialise
from streams.plugins.registry import PluginRegistry
from streams.plugins.scripts.files import FilesError
from streams.plugins.scripts.python import PythonScript
from tests.unit.test_tasks_helpers import Recorder, make_ctx

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class FoldedView(NamespaceFilesFold):
    """The fold, fed directly by the store's sends (the broker's part, in memory)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[NamespaceFileWritten | NamespaceFileDeleted] = []

    def catch_up(self, timeout_s: float = 10.0) -> bool:
        return True

    async def send(self, key: str, value: bytes) -> None:
        event = NAMESPACE_FILE_EVENT_ADAPTER.validate_json(value)
        assert key == event.record_key
        self.sent.append(event)
        self.apply(event)


def _ctx(tmp: Path, view: FoldedView, **extra: Any) -> WorkerContext:
    probe = make_ctx(tmp, Recorder())
    assert probe.storage is not None
    port = LiveNamespaceFiles(view, probe.storage, view.send, "main", lambda: T0, "exec1", "run1")
    return make_ctx(tmp, Recorder(), namespace_files=port, **extra)


async def _put(
    ctx: WorkerContext, path: str, content: str, namespace: str = "company.team"
) -> None:
    assert ctx.namespace_files is not None and ctx.work_root is not None
    local = ctx.work_root.parent / "upload.tmp"
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text(content)
    await ctx.namespace_files.write(namespace, path, local)


async def _run(cls: type[Task], ctx: WorkerContext, **props: Any) -> Outcome:
    task = cls.model_validate({"id": "t1", "type": cls.TYPE, **props})
    outcome: Outcome = await task.run(ctx)  # type: ignore[attr-defined]
    return outcome


# --- paths and patterns --------------------------------------------------------------


def test_paths_are_normalised_and_traversal_is_refused() -> None:
    assert normalise("scripts//main.py") == "/scripts/main.py"
    assert normalise("/./a/b.txt") == "/a/b.txt"
    assert folder("") == "/" and folder("lib") == "/lib/"
    for bad in ("../etc/passwd", "/a/../../b", "", "/", "a\x00b", "a\\b", "x" * 2000):
        with pytest.raises(BadPath):
            normalise(bad)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("main.py", "/main.py", True),  # a word-character start gets **/ (Kestra)
        ("main.py", "/lib/main.py", True),
        ("utils/**", "/utils/a/b.py", True),
        ("/utils/*", "/utils/a/b.py", False),  # * stays in one folder
        ("/utils/*", "/utils/a.py", True),
        ("*.py", "/main.py", True),  # tried without the leading slash too
        ("*.py", "/lib/x.py", False),
        ("**.{py,sql}", "/q/r.sql", True),
        ("glob:/**/*.csv", "/data/in.csv", True),
        ("regex:.*\\.txt", "/a/b.txt", True),
        ("/f?le.txt", "/file.txt", True),
        ("/[!a]*.txt", "/b.txt", True),
        ("/[!a]*.txt", "/a.txt", False),
    ],
)
def test_patterns_follow_kestras_path_matcher(pattern: str, path: str, expected: bool) -> None:
    assert Selection.of([pattern])(path) is expected


def test_include_and_exclude_combine_as_kestra_does() -> None:
    select = Selection.of(["**.py"], ["tests/**"])
    assert select("/main.py") and not select("/tests/t.py") and not select("/README.md")
    assert Selection.of()("/anything")
    assert not Selection.of([], ["*.md"])("/README.md")
    with pytest.raises(BadPath):
        Selection.of(["/{a,b"])


# --- the fold ------------------------------------------------------------------------


def _written(path: str, sha: str, namespace: str = "ns") -> NamespaceFileWritten:
    uri = f"kestra://main/ns/_namespace_files/{sha}"
    return NamespaceFileWritten(
        tenant="main", namespace=namespace, path=path, uri=uri, size=1, sha256=sha, time=T0
    )


def test_versions_count_changes_and_ignore_a_redelivered_write() -> None:
    fold = NamespaceFilesFold()
    fold.apply(_written("/a.py", "1"))
    fold.apply(_written("/a.py", "1"))  # delivered twice: no second version
    fold.apply(_written("/a.py", "2"))
    found = fold.get("main", "ns", "/a.py")
    assert found is not None and found.version == 2
    fold.apply(NamespaceFileDeleted(tenant="main", namespace="ns", path="/a.py", time=T0))
    assert fold.get("main", "ns", "/a.py") is None
    assert [v.version for v in fold.versions("main", "ns", "/a.py")] == [1, 2]
    fold.apply(_written("/a.py", "2"))  # the same content after a delete is a new version
    again = fold.get("main", "ns", "/a.py")
    assert again is not None and again.version == 3
    assert fold.has_namespace("main", "ns") and not fold.has_namespace("main", "other")


def test_a_namespace_lists_its_own_files_not_its_childrens() -> None:
    fold = NamespaceFilesFold()
    fold.apply(_written("/b.py", "1"))
    fold.apply(_written("/a/c.py", "2"))
    fold.apply(_written("/x.py", "3", namespace="ns.child"))
    assert [f.path for f in fold.files("main", "ns")] == ["/a/c.py", "/b.py"]
    assert [f.path for f in fold.files("main", "ns.child")] == ["/x.py"]


# --- tasks ---------------------------------------------------------------------------


def test_the_tasks_are_registered_under_kestras_names() -> None:
    registry = PluginRegistry.discover()
    for name in ("UploadFiles", "DownloadFiles", "DeleteFiles"):
        assert registry.get(f"io.kestra.plugin.core.namespace.{name}") is not None


async def test_upload_download_and_delete_files(tmp_path: Path) -> None:
    view = FoldedView()
    ctx = _ctx(tmp_path, view)
    uploaded = await _run(
        UploadFiles, ctx, filesMap={"main.py": "print('hi')", "lib/util.py": "X = 1"}
    )
    assert uploaded.state is State.SUCCESS, uploaded.error
    assert set(uploaded.outputs["files"]) == {"/main.py", "/lib/util.py"}
    assert all(e.execution_id == "exec1" for e in view.sent)

    refused = await _run(UploadFiles, ctx, filesMap={"main.py": "other"}, conflict="ERROR")
    assert refused.state is State.FAILED and "/main.py exists" in str(refused.error)
    skipped = await _run(UploadFiles, ctx, filesMap={"main.py": "other"}, conflict="SKIP")
    assert skipped.outputs["files"] == {}

    downloaded = await _run(DownloadFiles, ctx, files=["lib/**"])
    assert downloaded.state is State.SUCCESS, downloaded.error
    assert ctx.storage is not None
    copy = downloaded.outputs["files"]["/lib/util.py"]
    assert copy.startswith(ctx.files_prefix()) and ctx.storage.get_bytes(copy) == b"X = 1"

    deleted = await _run(DeleteFiles, ctx, files="/main.py")
    assert list(deleted.outputs["files"]) == ["/main.py"]
    assert [f.path for f in view.files("main", "company.team")] == ["/lib/util.py"]


async def test_upload_refuses_paths_that_leave_the_namespace(tmp_path: Path) -> None:
    outcome = await _run(UploadFiles, _ctx(tmp_path, FoldedView()), filesMap={"../x.py": "1"})
    assert outcome.state is State.FAILED and "leaves the namespace" in str(outcome.error)


async def test_upload_of_working_directory_files_needs_one(tmp_path: Path) -> None:
    outcome = await _run(UploadFiles, _ctx(tmp_path, FoldedView()), files=["*.py"])
    assert outcome.state is State.FAILED and "WorkingDirectory" in str(outcome.error)
    shared = tmp_path / "shared"
    (shared / "pkg").mkdir(parents=True)
    (shared / "pkg" / "m.py").write_text("M = 2")
    (shared / "notes.txt").write_text("no")
    view = FoldedView()
    ok = await _run(UploadFiles, _ctx(tmp_path, view, shared_dir=shared), files=["**.py"])
    assert ok.outputs["files"].keys() == {"/pkg/m.py"}


# --- namespaceFiles and read() -------------------------------------------------------


async def test_namespace_files_are_copied_into_the_working_directory(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, FoldedView())
    await _put(ctx, "/main.py", "import helpers.greet as g\nprint(g.hello())\n")
    await _put(ctx, "/helpers/greet.py", "def hello():\n    return 'hello from a module'\n")
    await _put(ctx, "/helpers/__init__.py", "")
    await _put(ctx, "/README.md", "docs")
    folder_ = tmp_path / "wd"
    folder_.mkdir()
    copied = await materialise(ctx, folder_, NamespaceFiles(include=["**.py"]))
    assert copied == ["/helpers/__init__.py", "/helpers/greet.py", "/main.py"]
    assert (folder_ / "helpers" / "greet.py").exists() and not (folder_ / "README.md").exists()
    assert await materialise(ctx, folder_, NamespaceFiles(enabled=False)) == []
    with pytest.raises(FilesError, match="no namespace file store"):
        await materialise(make_ctx(tmp_path, Recorder()), folder_, NamespaceFiles())


async def test_a_python_script_imports_a_module_from_namespace_files(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, FoldedView())
    await _put(ctx, "/helpers/greet.py", "def hello():\n    return 'hello from a module'\n")
    outcome = await _run(
        PythonScript,
        ctx,
        namespaceFiles={"enabled": True},
        script="from helpers.greet import hello\nprint(hello())\n",
    )
    assert outcome.state is State.SUCCESS, outcome.error
    assert any("hello from a module" in m for m in ctx.log.messages())  # type: ignore[attr-defined]


def test_read_of_a_path_reads_the_namespace_file() -> None:
    files = {"/config/settings.json": b'{"a": 1}'}

    def read_namespace_file(path: str) -> bytes:
        wanted = normalise(path)
        if wanted not in files:
            raise FileNotFoundError(f"namespace file {wanted} not found in namespace ns")
        return files[wanted]

    resolve = make_resolver(
        {}, None, None, "kestra://main/ns/", None, read_namespace_file=read_namespace_file
    )
    assert resolve("read", "config/settings.json") == '{"a": 1}'
    with pytest.raises(DeferredError, match="not found in namespace ns"):
        resolve("read", "missing.txt")
    with pytest.raises(DeferredError, match="leaves the namespace"):
        resolve("read", "../other/secret.txt")
    # kestra:// URIs still read internal storage, within the namespace only.
    with pytest.raises(DeferredError, match="outside this flow's namespace"):
        make_resolver({}, lambda uri: b"", None, "kestra://main/ns/")("read", "kestra://main/x/y")
