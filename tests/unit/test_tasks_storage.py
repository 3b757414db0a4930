"""Internal storage: local back end, URIs, spilling big outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.storage import task_file_uri, task_prefix
from streams.storage import LocalStorage, StorageError, spill_outputs, storage_from_env
from streams.storage.spill import MAX_OUTPUTS_BYTES, MAX_VALUE_BYTES


def test_put_get_and_traversal_is_refused(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    uri = store.put_bytes("kestra://main/a/b/file.txt", b"hello")
    assert store.get_bytes(uri) == b"hello" and store.exists(uri) and store.size(uri) == 5
    with pytest.raises(StorageError):
        store.get_bytes("kestra://main/a/b/missing.txt")
    with pytest.raises(StorageError):
        store.get_bytes(uri, max_bytes=2)
    for bad in ("kestra://main/../x", "http://x/y", "kestra://"):
        with pytest.raises(StorageError):
            store.path_of(bad)


def test_uris_follow_kestras_layout() -> None:
    prefix = task_prefix("main", "company.team", "f", "e1", "t1", "r1", 2)
    assert prefix == "kestra://main/company/team/f/executions/e1/tasks/t1/r1/2"
    assert task_file_uri(prefix, "out/a b.csv") == prefix + "/out/a%20b.csv"


def test_storage_dir_is_configurable(tmp_path: Path) -> None:
    configured = storage_from_env({"LANNER_STORAGE_DIR": str(tmp_path / "s")}, "unused")
    assert configured.root == (tmp_path / "s").resolve()
    default = storage_from_env({}, str(tmp_path / "data"))
    assert default.root == (tmp_path / "data" / "storage").resolve()


def test_big_outputs_spill_and_small_ones_stay(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    big = "x" * (MAX_VALUE_BYTES + 1)
    many = {f"k{i}": "y" * (MAX_VALUE_BYTES // 2) for i in range(12)}
    outputs = {"small": 1, "big": big, **many}
    result, spilled = spill_outputs(outputs, store, "kestra://main/ns/f/executions/e/tasks/t/r/1")
    assert "big" in spilled and result["small"] == 1
    assert len(json.dumps(result)) <= MAX_OUTPUTS_BYTES
    assert json.loads(store.get_bytes(result["big"])) == big
    same, none = spill_outputs({"a": 1}, store, "kestra://p")
    assert same == {"a": 1} and none == []
