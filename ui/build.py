"""Build the web UI into api/web/ui_dist when its inputs changed (./dev run, ./dev test and
the UI tests call it): `npm ci` when package-lock.json changed, the API client types from
the OpenAPI document and the editor's completions from the flow JSON Schema (both dumped
by api.web.openapi_dump, so they follow the code), then `vite build`.

A stamp of the inputs' hash (the UI's sources, the API's route and model modules, the
plugins that make the flow schema) skips all of it when nothing changed.

    python ui/build.py            build if needed
    python ui/build.py --force    build anyway
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

UI = Path(__file__).resolve().parent
REPO = UI.parent
DIST = REPO / "api" / "web" / "ui_dist"
STAMP = UI / ".build-stamp"
LOCK_STAMP = UI / "node_modules" / ".lanner-lock.sha256"
SKIP_DIRS = {"node_modules", "generated", "dist", "__pycache__"}
GENERATED = {"openapi.json", ".build-stamp"}


def say(message: str) -> None:
    print(f"ui build: {message}", file=sys.stderr, flush=True)


def _files(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    found = []
    for path in root.rglob("*"):
        if any(part in SKIP_DIRS for part in path.relative_to(root).parts):
            continue
        if path.name in GENERATED:
            continue
        if path.is_file() and path.suffix in suffixes:
            found.append(path)
    return sorted(found)


def inputs_hash() -> str:
    digest = hashlib.sha256()
    ui_files = _files(UI, (".ts", ".vue", ".css", ".html", ".json", ".js", ".yml"))
    python = _files(REPO / "api" / "web", (".py",)) + _files(REPO / "streams" / "plugins", (".py",))
    for path in [*ui_files, *python, REPO / "pyproject.toml"]:
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def npm() -> str:
    found = shutil.which("npm")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("npm is missing: apt-get install nodejs npm")
        subprocess.run(["apt-get", "update", "-q"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "nodejs", "npm"], check=True)
        found = shutil.which("npm")
        if found:
            return found
    raise SystemExit("ui build: npm (Node.js 18 or later) is needed to build the web UI")


def run(what: str, command: list[str], cwd: Path = UI) -> None:
    started = time.monotonic()
    say(f"{what} ...")
    subprocess.run(command, cwd=cwd, check=True)
    say(f"{what}: done in {time.monotonic() - started:.1f} s")


def dump(argument: list[str], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        subprocess.run(
            [sys.executable, "-m", "api.web.openapi_dump", *argument],
            cwd=REPO,
            stdout=out,
            check=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )


def install_dependencies(npm_path: str) -> None:
    lock = hashlib.sha256((UI / "package-lock.json").read_bytes()).hexdigest()
    if LOCK_STAMP.is_file() and LOCK_STAMP.read_text().strip() == lock:
        return
    run("npm ci", [npm_path, "ci", "--no-audit", "--no-fund"])
    LOCK_STAMP.write_text(lock)


def generate(npm_path: str) -> None:
    """The OpenAPI document and the flow schema, and the client types made from the first."""
    dump([], UI / "openapi.json")
    dump(["flow-schema"], UI / "src" / "generated" / "flow-schema.json")
    types = ["openapi-typescript", "openapi.json", "-o", "src/generated/api.d.ts"]
    run("openapi-typescript", [npm_path, "exec", "--", *types])


def prepare() -> str:
    """Dependencies installed and sources generated (what the checks and the build need)."""
    npm_path = npm()
    install_dependencies(npm_path)
    generate(npm_path)
    return npm_path


def build(force: bool = False) -> bool:
    """Build if the inputs changed; True when it built."""
    wanted = inputs_hash()
    up_to_date = STAMP.is_file() and STAMP.read_text().strip() == wanted
    if up_to_date and (DIST / "index.html").is_file() and not force:
        return False
    npm_path = prepare()
    run("vite build", [npm_path, "run", "build", "--silent"])
    STAMP.write_text(inputs_hash())
    return True


if __name__ == "__main__":
    built = build(force="--force" in sys.argv[1:])
    say("built into api/web/ui_dist" if built else "up to date")
