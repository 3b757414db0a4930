"""Process trees end cleanly.

- `lanner server local` whose supervisor is SIGKILLed leaves no role and no back end
  running (they die with it), and a new start on the same data folder comes up.
- A second start on a data folder in use is refused in one line naming folder and pid.
- A process whose graceful stop is stuck (a busy event loop, as the executor in a long
  render; a long request, as the API) still ends within its stop deadline.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.cli.lifeline import STUCK_EXIT_CODE
from tests.harness.common import free_ports, pid_alive
from tests.integration.cluster import REPO

UP_TIMEOUT_S = 180.0


def _children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[-1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            found.add(int(entry.name))
    return found


def _tree(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in _children_of(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


class Local:
    """`lanner server local` on free loopback ports, its data in `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        kafka, es, api = free_ports(3)
        self.api = f"http://127.0.0.1:{api}"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "LANNER_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka}",
            "LANNER_ELASTICSEARCH_URL": f"http://127.0.0.1:{es}",
            "LANNER_API_PORT": str(api),
            "LANNER_TOPIC_PREFIX": "tree.",
            "LANNER_AUTH": "off",
        }
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.data_dir.parent / f"local-{len(self.procs)}.log").open("ab")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api.cli.main",
                "server",
                "local",
                "--data-dir",
                str(self.data_dir),
                "--flows",
                str(self.data_dir / "no-flows"),
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        return proc

    def healthy(self) -> bool:
        try:
            response = httpx.get(f"{self.api}/health", timeout=2)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json()["status"] == "UP"

    def wait_up(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + UP_TIMEOUT_S
        while not self.healthy():
            assert proc.poll() is None, f"server local exited with {proc.returncode}"
            assert time.monotonic() < deadline, "server local did not come up"
            time.sleep(0.5)

    def log(self, index: int) -> str:
        return (self.data_dir.parent / f"local-{index}.log").read_text(errors="replace")


@pytest.fixture
def local() -> Iterator[Local]:
    local = Local(Path(tempfile.mkdtemp(prefix="lanner-tree-")) / "data")
    try:
        yield local
    finally:
        for proc in local.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


def test_the_tree_dies_with_its_supervisor_and_starts_again(local: Local) -> None:
    first = local.start()
    local.wait_up(first)
    tree = _tree(first.pid)
    # noida-db and five roles (each `python -m api.cli.main server ROLE`).
    assert len(tree) >= 6, tree

    # A second start while the first runs: refused, one line, naming folder and pid.
    second = local.start()
    assert second.wait(timeout=60) == 1
    refusal = [line for line in local.log(1).splitlines() if line.startswith("lanner:")]
    assert len(refusal) == 1, local.log(1)
    assert str(local.data_dir) in refusal[0] and f"pid {first.pid}" in refusal[0]
    assert local.healthy()  # the first tree is untouched

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = time.monotonic()
    while any(pid_alive(p) for p in tree) and time.monotonic() - killed_at < 5.0:
        time.sleep(0.1)
    survivors = {p: Path(f"/proc/{p}/cmdline").read_bytes() for p in tree if pid_alive(p)}
    assert survivors == {}, survivors
    print(
        f"\nevery process of the tree gone {time.monotonic() - killed_at:.1f} s after the "
        "supervisor was SIGKILLed"
    )

    third = local.start()
    local.wait_up(third)
    asked = time.monotonic()
    third.terminate()
    assert third.wait(timeout=60) == 0
    print(f"a stop request to the whole tree took {time.monotonic() - asked:.1f} s")


BUSY_LOOP = """
import asyncio, os, signal, sys, time
from api.cli.lifeline import install_stop_deadline

install_stop_deadline(float(sys.argv[1]))

async def main() -> None:
    stop = asyncio.Event()
    # As Faust (mode) and uvicorn do: the stop handler runs on the event loop...
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    if sys.argv[2] == "busy":
        while True:  # ... which a long render keeps busy: the handler never runs
            sum(range(1000))
    await stop.wait()

asyncio.run(main())
"""


def _run_busy(mode: str, deadline_s: float) -> tuple[int, float, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(BUSY_LOOP), str(deadline_s), mode],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    asked = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=deadline_s + 10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.stderr is not None
    return code, time.monotonic() - asked, proc.stderr.read().decode(errors="replace")


def test_a_busy_event_loop_still_stops_within_the_deadline() -> None:
    code, took, stderr = _run_busy("busy", 2.0)
    assert code == STUCK_EXIT_CODE
    # The deadline, and a margin for a loaded machine.
    assert 2.0 <= took < 6.0, took
    assert "graceful stop did not finish in time" in stderr or "Thread" in stderr
    print(f"\nbusy loop stopped {took:.2f} s after SIGTERM (deadline 2 s)")
    # A graceful stop that finishes is left alone: its own exit code, no waiting.
    code, took, _ = _run_busy("idle", 2.0)
    assert code == 0 and took < 3.0, (code, took)


SLOW_API = """
import sys, time
import uvicorn
from fastapi import FastAPI
from api.cli.lifeline import install_stop_deadline

install_stop_deadline(float(sys.argv[1]))
app = FastAPI()

@app.get("/slow")
def slow() -> dict[str, str]:
    print("in flight", flush=True)
    time.sleep(120)  # a request that takes long (a huge body, a slow back end)
    return {"done": "late"}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_config=None)
"""


def test_an_api_busy_with_a_long_request_stops_within_the_deadline() -> None:
    [port] = free_ports(1)
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SLOW_API), "2", str(port)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.2)

        def request() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server goes away mid-request
                httpx.get(f"http://127.0.0.1:{port}/slow", timeout=60)

        client = threading.Thread(target=request, daemon=True)
        client.start()
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"in flight"
        asked = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        took = time.monotonic() - asked
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == STUCK_EXIT_CODE
    assert took < 6.0, took
    print(f"\nAPI with a request in flight stopped {took:.2f} s after SIGTERM (deadline 2 s)")
