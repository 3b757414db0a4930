"""A cluster whose workers run the project's task plugins and keep files in a storage
folder of their own: the set-up every tasks-on-Kafka test module shares."""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from tests.integration.cluster import REPO, Cluster


def plugin_metadata_dir(extra: Mapping[str, str] | None = None) -> Path:
    """A dist-info declaring pyproject's `lanner.plugins` entry points, and `extra` ones
    (a third-party package's, name -> "module:attribute").

    The source tree is on PYTHONPATH but not pip-installed in the test venv, so entry
    points are not registered; this puts them on sys.path as an installed package would.
    """
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    points = {**project["project"]["entry-points"]["lanner.plugins"], **(extra or {})}
    root = Path(tempfile.mkdtemp(prefix="lanner-plugins-"))
    info = root / "lanner_tasks_it-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lanner-tasks-it\nVersion: 0.0\n")
    lines = ["[lanner.plugins]", *(f"{name} = {target}" for name, target in points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return root


@contextmanager
def task_cluster(
    bootstrap: str,
    prefix: str,
    *,
    worker_threads: int = 4,
    env: dict[str, str] | None = None,
    plugins: Mapping[str, str] | None = None,
) -> Iterator[Cluster]:
    """An executor and workers started with the plugins registered (here too) and a
    fresh storage folder (`cluster.env["LANNER_STORAGE_DIR"]`); `env` adds variables,
    `plugins` entry points of a third-party package."""
    meta = plugin_metadata_dir(plugins)
    sys.path.insert(0, str(meta))
    importlib.invalidate_caches()
    storage = Path(tempfile.mkdtemp(prefix="lanner-storage-"))
    cluster = Cluster(
        bootstrap,
        prefix,
        worker_threads=worker_threads,
        env={
            "PYTHONPATH": f"{meta}{os.pathsep}{REPO}",
            "LANNER_STORAGE_DIR": str(storage),
            **(env or {}),
        },
    )
    try:
        cluster.start_executor_and_worker()
        yield cluster
    finally:
        cluster.close()
        sys.path.remove(str(meta))
