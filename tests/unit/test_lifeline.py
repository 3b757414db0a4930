"""The data folder lock and the process lifeline, in small."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from api.cli.data_lock import DataFolderInUse, DataFolderLock
from api.cli.lifeline import STUCK_EXIT_CODE
from tests.harness.common import pid_alive

REPO = Path(__file__).resolve().parents[2]


def test_a_second_lock_on_a_folder_is_refused_naming_folder_and_pid(tmp_path: Path) -> None:
    first = DataFolderLock(tmp_path / "data").acquire()
    try:
        with pytest.raises(DataFolderInUse) as refused:
            DataFolderLock(tmp_path / "data").acquire()
        message = str(refused.value)
        assert "\n" not in message
        assert str(tmp_path / "data") in message and f"pid {os.getpid()}" in message
    finally:
        first.release()
    DataFolderLock(tmp_path / "data").acquire().release()  # free again once released


def test_a_lock_held_by_survivors_of_a_dead_supervisor_names_them(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = DataFolderLock(tmp_path).acquire()
    try:
        lock.record([dead.pid, os.getpid()])
        with pytest.raises(DataFolderInUse, match=f"pid {os.getpid()}, left by pid {dead.pid}"):
            DataFolderLock(tmp_path).acquire()
    finally:
        lock.release()


def test_the_lock_lives_as_long_as_a_child_that_was_handed_it(tmp_path: Path) -> None:
    lock = DataFolderLock(tmp_path).acquire()
    assert lock.fd is not None
    child = subprocess.Popen(["sleep", "30"], pass_fds=(lock.fd,))
    try:
        lock.release()
        with pytest.raises(DataFolderInUse):
            DataFolderLock(tmp_path).acquire()
    finally:
        child.kill()
        child.wait()
    DataFolderLock(tmp_path).acquire().release()


def test_a_child_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG through die_with_parent: the grandchild gets SIGTERM when its
    parent (here a short-lived Python process) is SIGKILLed."""
    pid_file = tmp_path / "pid"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
        import os, subprocess, time
        from api.cli.lifeline import die_with_parent
        child = subprocess.Popen(["sleep", "60"], preexec_fn=die_with_parent(os.getpid()))
        open({str(pid_file)!r}, "w").write(str(child.pid))
        time.sleep(60)
    """),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline = time.monotonic() + 20
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int(pid_file.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while pid_alive(child):
        assert time.monotonic() < deadline, "the child outlived its parent"
        time.sleep(0.05)


def test_a_stop_stuck_in_a_signal_handler_chain_still_ends() -> None:
    """A handler installed after the deadline (as frameworks do) is wrapped: its process,
    stuck after the request, exits with STUCK_EXIT_CODE once the deadline passes."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
        import signal, time
        from api.cli.lifeline import install_stop_deadline
        install_stop_deadline(1.0)
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
        print("ready", flush=True)
        while True:
            time.sleep(0.05)  # a graceful stop that never finishes
    """),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    asked = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == STUCK_EXIT_CODE
    assert time.monotonic() - asked < 5.0  # 1 s deadline, a margin for a loaded machine
    assert proc.stderr is not None
    assert b"graceful stop did not finish in time" in proc.stderr.read()
