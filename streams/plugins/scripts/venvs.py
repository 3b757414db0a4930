"""Cached virtual environments for Python tasks with `dependencies`.

One venv per (interpreter, sorted dependencies), under `<work root>/venvs/<hash>`, built
once and reused by every task run that asks for the same set. A file lock makes two
worker processes (or coroutines) building the same venv wait for each other; a venv is
used only once its `ready` marker exists, and a failed build is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from streams.plugins.base import WorkerContext
from streams.plugins.scripts.process import run_process

_READY = ".lanner-ready"
_LOCK_WAIT_S = 900.0
_LOCK_POLL_S = 0.2


class VenvError(Exception):
    pass


def venv_key(python: str, dependencies: list[str]) -> str:
    text = "\n".join([python, *sorted(set(dependencies))])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@contextlib.asynccontextmanager
async def _file_lock(path: Path) -> AsyncIterator[None]:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        deadline = time.monotonic() + _LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise VenvError(f"waited {_LOCK_WAIT_S:.0f} s for {path}") from None
                await asyncio.sleep(_LOCK_POLL_S)
        yield
    finally:
        os.close(fd)  # closing releases the lock


async def ensure_venv(
    ctx: WorkerContext, python: str, dependencies: list[str], env: Mapping[str, str]
) -> Path:
    """The venv's directory, built if needed; raises VenvError with the reason."""
    root = (ctx.work_root or Path(tempfile.gettempdir()) / "lanner-work") / "venvs"
    root.mkdir(parents=True, exist_ok=True)
    target = root / venv_key(python, dependencies)
    if (target / _READY).exists():
        return target
    async with _file_lock(root / f"{target.name}.lock"):
        if (target / _READY).exists():
            return target
        shutil.rmtree(target, ignore_errors=True)
        await ctx.log("INFO", f"creating a virtual environment for {', '.join(dependencies)}")
        made = await run_process([python, "-m", "venv", str(target)], root, env, ctx)
        if made.exit_code != 0:
            shutil.rmtree(target, ignore_errors=True)
            raise VenvError(f"creating the virtual environment failed (exit {made.exit_code})")
        pip = [
            str(target / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            *dependencies,
        ]
        installed = await run_process(pip, root, env, ctx)
        if installed.exit_code != 0:
            shutil.rmtree(target, ignore_errors=True)
            raise VenvError(
                f"installing dependencies {dependencies} failed (pip exit "
                f"{installed.exit_code}); see the pip output above"
            )
        (target / _READY).write_text("\n".join(dependencies))
        return target
