"""Which storage back end a process uses: `LANNER_STORAGE_DIR`, else `<data dir>/storage`.

Read at the process edge (the worker, the API) and passed in; never by the core.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from streams.storage.local import LocalStorage

STORAGE_DIR_ENV = "LANNER_STORAGE_DIR"


def storage_from_env(environ: Mapping[str, str], data_dir: str) -> LocalStorage:
    configured = environ.get(STORAGE_DIR_ENV, "").strip()
    root = Path(configured) if configured else Path(data_dir) / "storage"
    root.mkdir(parents=True, exist_ok=True)
    return LocalStorage(root)
