"""Debian's headless Chromium for the web UI's browser tests, driven by Playwright for
Python through its executable path: Playwright never downloads a browser here. A machine
without it gets the `chromium` package (apt-get, as root); one that cannot is skipped,
loudly."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _found() -> str | None:
    for path in CANDIDATES:
        if Path(path).is_file():
            return path
    return shutil.which("chromium")


def chromium_path() -> str:
    """The browser's path, installed with apt-get when missing; a loud skip if impossible."""
    found = _found()
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("chromium is missing: apt-get install chromium", file=sys.stderr, flush=True)
        subprocess.run(["apt-get", "update", "-q"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=False)
        found = _found()
        if found:
            return found
    message = (
        "SKIPPED LOUDLY: Debian's chromium is not installed and could not be installed "
        "(apt-get install chromium, as root): the web UI's browser tests did not run"
    )
    print(f"\n{'!' * 20}\n{message}\n{'!' * 20}", file=sys.stderr, flush=True)
    pytest.skip(message)


@contextmanager
def headless_chromium(width: int = 1280, height: int = 800) -> Iterator[BrowserContext]:
    """A browser context on a fresh profile (Playwright passes it as --user-data-dir)."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    # Playwright must never fetch browsers of its own.
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    with (
        tempfile.TemporaryDirectory(prefix="lanner-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            headless=True,
            args=FLAGS,
            viewport={"width": width, "height": height},
        )
        try:
            yield context
        finally:
            context.close()
