"""The web UI's own checks, run by pytest so that `./dev test` and CI run them: its
TypeScript type-checked with vue-tsc (the API types generated from the served OpenAPI
document, so a route or model change that breaks the UI fails here), linted with eslint,
and its components' unit tests run with Vitest (ui/tests/*.spec.ts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UI = REPO / "ui"

sys.path.insert(0, str(UI))
import build  # noqa: E402  (ui/build.py: npm ci and the generated sources, as the build does)


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
