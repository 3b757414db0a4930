"""How a Lanner process ends: within a deadline when asked, and with its supervisor.

Two guarantees for every role process:

- A stop request (SIGTERM, SIGINT) is honoured within `stop_deadline_s`: the role's own
  graceful stop runs first, and if it is still stuck when the deadline passes (a long
  request in the API, a long render in the executor), the process says so in its log,
  dumps its threads' stacks to stderr, and exits.
- A child of `lanner server local|standalone` dies with its supervisor: the kernel sends
  it SIGTERM when the supervisor dies (PR_SET_PDEATHSIG: set by each role at its start,
  and between fork and exec for the noida-db binary), and a thread in each role watches
  its parent as a fallback (the signal is tied to the thread that forked, and not every
  kernel has it), with a short grace before it exits.
"""

from __future__ import annotations

import ctypes
import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger("lanner.lifeline")

# Set by the supervisor in its children's environment: the pid they must not outlive.
SUPERVISOR_PID_ENV = "LANNER_SUPERVISOR_PID"
# The exit code of a process whose graceful stop overran its deadline.
STUCK_EXIT_CODE = 70
PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# How long a role whose supervisor died may take to stop (at most its stop deadline).
ORPHAN_GRACE_S = 2.5
# The GIL-free watchdog fires this long after the deadline the process keeps itself.
BACKSTOP_MARGIN_S = 1.0


class _Deadline:
    """Arms once, at the first stop request; then the process has `seconds` to be gone."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._armed = threading.Event()

    def arm(self, signum: int) -> None:
        if self._armed.is_set():
            return
        self._armed.set()
        _backstop(self.seconds + BACKSTOP_MARGIN_S)
        threading.Thread(
            target=self._expire, args=(signum,), name="lanner-stop-deadline", daemon=True
        ).start()

    def _expire(self, signum: int) -> None:
        time.sleep(self.seconds)
        log.error(
            "graceful stop did not finish in time; exiting",
            extra={
                "signal": signal.Signals(signum).name,
                "deadline_s": self.seconds,
                "pid": os.getpid(),
            },
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        # Where it was stuck, for whoever reads the log next.
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        os._exit(STUCK_EXIT_CODE)


def _backstop(seconds: float) -> None:
    """A watchdog that needs no GIL: faulthandler's C thread dumps every thread's stack
    and calls _exit(1) after `seconds`. Python threads cannot help when the interpreter is
    finalizing (they are frozen) or a C call holds the GIL; this still can. There is one
    such watchdog per process: the earliest expiry asked for wins."""
    global _backstop_at
    expiry = time.monotonic() + seconds
    if _backstop_at is not None and _backstop_at <= expiry:
        return
    _backstop_at = expiry
    faulthandler.dump_traceback_later(seconds, repeat=False, file=sys.stderr, exit=True)


_backstop_at: float | None = None
_deadline: _Deadline | None = None
_original_signal = signal.signal


def _wrapped(handler: Any) -> Any:
    """`handler` that arms the deadline first; SIG_DFL and SIG_IGN stay as they are."""
    if not callable(handler) or getattr(handler, "_lanner_deadline", False):
        return handler

    def on_stop(signum: int, frame: FrameType | None) -> Any:
        if _deadline is not None:
            _deadline.arm(signum)
        return handler(signum, frame)

    on_stop._lanner_deadline = True  # type: ignore[attr-defined]
    on_stop.__wrapped__ = handler  # type: ignore[attr-defined]
    return on_stop


def _signal(signalnum: Any, handler: Any) -> Any:
    if signalnum in STOP_SIGNALS:
        handler = _wrapped(handler)
    previous = _original_signal(signalnum, handler)
    return getattr(previous, "__wrapped__", previous)


def install_stop_deadline(seconds: float) -> None:
    """Every stop request to this process is honoured within `seconds`.

    The frameworks that run the roles install their own stop handlers after this call
    (asyncio's loop for Faust, uvicorn for the API), each replacing whatever was there:
    so `signal.signal` itself is wrapped, and every SIGTERM/SIGINT handler installed in
    this process, now or later, arms the deadline before it does its own work. asyncio's
    handlers still run (the wakeup fd is written by the C-level handler whatever Python
    handler is set). Call it from the main thread, once, before the framework starts.
    """
    global _deadline
    _deadline = _Deadline(seconds)
    # SIG_DFL (SIGTERM's default) ends the process at once, which honours the request
    # already: only callable handlers are wrapped.
    signal.signal = _signal
    for sig in STOP_SIGNALS:
        current = signal.getsignal(sig)
        if callable(current):
            _signal(sig, current)


# --- dying with the supervisor ------------------------------------------------------------


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc() if sys.platform.startswith("linux") else None


def die_with_parent(parent_pid: int, signum: int = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` for Popen: the child gets `signum` when the process that forked it
    dies. Runs in the child between fork and exec, so it covers any program (noida-db);
    it keeps to prctl, getppid and kill. Only for a parent without threads yet (Python
    code between fork and exec may deadlock otherwise): roles set it themselves."""

    def preexec() -> None:
        if _LIBC is not None:
            _LIBC.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
        # The parent may have died before prctl took effect: then no signal will come.
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def watch_parent(grace_s: float, interval_s: float = 0.25) -> threading.Thread | None:
    """In a supervised role (SUPERVISOR_PID_ENV set): a thread that stops this process when
    its supervisor is gone (the fallback to PR_SET_PDEATHSIG), within `grace_s`.

    An orphan gets a shorter grace than a stop request: nobody waits for its graceful
    stop, its back end is likely going down with the tree (`server local`), and a next
    start on the same data folder waits for it to be gone."""
    raw = os.environ.get(SUPERVISOR_PID_ENV, "")
    if not raw.isdigit():
        return None
    supervisor = int(raw)
    # Set here rather than in a preexec_fn: the supervisor has threads by the time it
    # starts the roles (Kafka clients), and code between fork and exec is unsafe then.
    # If the supervisor died before this line, the watch below sees it at once.
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(interval_s)
        log.warning(
            "the supervisor is gone; stopping",
            extra={"supervisor_pid": supervisor, "pid": os.getpid(), "grace_s": grace_s},
        )
        # Armed before the stop request, which would arm the longer stop deadline.
        _backstop(grace_s)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="lanner-parent-watch", daemon=True)
    thread.start()
    return thread
