"""The web UI's own checks, run by pytest so that `./dev test` and CI run them: its
TypeScript type-checked with vue-tsc (the API types generated from the served OpenAPI
document, so a route or model change that breaks the UI fails here), linted with eslint,
and its components' unit tests run with Vitest (ui/tests/*.spec.ts)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
UI = REPO / "ui"


def _load_build() -> ModuleType:
    """ui/build.py (npm ci and the generated sources, as the build does), by its path: a
    plain `import build` could find PyPA's `build` package instead."""
    spec = importlib.util.spec_from_file_location("lanner_ui_build", UI / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()


@pytest.fixture(scope="module")
def npm() -> str:
    return build.prepare()


@pytest.mark.parametrize(
    "script",
    ["typecheck", "lint", "test"],
    ids=["vue-tsc", "eslint", "vitest"],
)
def test_ui_check(npm: str, script: str) -> None:
    done = subprocess.run(
        [npm, "run", "--silent", script],
        cwd=UI,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "CI": "1", "NO_COLOR": "1"},
    )
    print(done.stdout[-4000:])
    assert done.returncode == 0, (
        f"npm run {script} failed:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    )
