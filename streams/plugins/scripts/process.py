"""Run a child process, streaming its output into the task run's logs line by line.

stdout lines are INFO, stderr lines WARN. A line `::{...}::` (Kestra's protocol, see
protocol.py) is not logged as it is: its outputs, metrics and log lines are collected.
Lines are split at MAX_LINE_BYTES so one endless line cannot eat the worker's memory or
exceed an event.
The process runs in its own session; cancelling the run (task timeout, worker shutdown)
kills the whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.metrics import MAX_METRICS_PER_ATTEMPT, TaskMetric
from streams.plugins.base import LogLevel, WorkerContext
from streams.plugins.scripts.protocol import ProtocolError, parse_protocol

log = logging.getLogger("lanner.scripts")

MAX_LINE_BYTES = 32 * 1024
_CHUNK = 64 * 1024
_KILL_WAIT_S = 10.0
_DRAIN_S = 5.0


class InterpreterNotFound(Exception):
    pass


@dataclass
class ProcessResult:
    exit_code: int
    outputs: dict[str, Any] = field(default_factory=dict)
    stderr_lines: int = 0
    metrics: list[TaskMetric] = field(default_factory=list)
    # Protocol lines that could not be read: the task run fails with the first.
    protocol_errors: list[str] = field(default_factory=list)


async def _pump(
    stream: asyncio.StreamReader, level: LogLevel, ctx: WorkerContext, result: ProcessResult
) -> None:
    buffer = b""
    stream_name = "stdout" if level == "INFO" else "stderr"
    number = 0

    async def emit(raw: bytes) -> None:
        nonlocal number
        number += 1
        line = raw.decode("utf-8", errors="replace").rstrip("\r")
        try:
            message = parse_protocol(line, ctx.now())
        except ProtocolError as exc:
            error = f"unreadable ::{{...}}:: line {number} of {stream_name} ({exc}): {line[:200]}"
            result.protocol_errors.append(error)
            await ctx.log("ERROR", error)
            return
        if message is not None:
            result.outputs.update(message.outputs)
            result.metrics.extend(message.metrics)
            if len(result.metrics) > MAX_METRICS_PER_ATTEMPT:
                del result.metrics[MAX_METRICS_PER_ATTEMPT:]
                if not result.protocol_errors:
                    result.protocol_errors.append(
                        f"more than {MAX_METRICS_PER_ATTEMPT} metrics in one task run"
                    )
            for log_level, text in message.logs:
                await ctx.log(log_level, text)
            return
        if level == "WARN":
            result.stderr_lines += 1
        await ctx.log(level, line)

    while True:
        chunk = await stream.read(_CHUNK)
        if not chunk:
            break
        buffer += chunk
        while True:
            cut = buffer.find(b"\n")
            if cut < 0:
                break
            # A protocol line may be long (big outputs); ordinary lines are split.
            line, buffer = buffer[:cut], buffer[cut + 1 :]
            if len(line) > MAX_LINE_BYTES and not line.lstrip().startswith(b"::{"):
                for start in range(0, len(line), MAX_LINE_BYTES):
                    await emit(line[start : start + MAX_LINE_BYTES])
            else:
                await emit(line)
        if len(buffer) > MAX_LINE_BYTES and not buffer.lstrip().startswith(b"::{"):
            await emit(buffer[:MAX_LINE_BYTES])
            buffer = buffer[MAX_LINE_BYTES:]
        elif len(buffer) > 16 * 1024 * 1024:  # an unterminated protocol line: give up on it
            await emit(buffer[:MAX_LINE_BYTES])
            buffer = b""
    if buffer:
        await emit(buffer)


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def run_process(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], ctx: WorkerContext
) -> ProcessResult:
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            limit=_CHUNK,
        )
    except FileNotFoundError:
        raise InterpreterNotFound(f"interpreter {argv[0]!r} was not found") from None
    except PermissionError:
        raise InterpreterNotFound(f"interpreter {argv[0]!r} is not executable") from None
    result = ProcessResult(exit_code=-1)
    assert process.stdout is not None and process.stderr is not None
    pumps = asyncio.gather(
        _pump(process.stdout, "INFO", ctx, result),
        _pump(process.stderr, "WARN", ctx, result),
    )
    try:
        result.exit_code = await process.wait()
        try:
            # A child left in the background may hold the pipes open: bounded drain.
            await asyncio.wait_for(asyncio.shield(pumps), _DRAIN_S)
        except TimeoutError:
            _kill_group(process)
            await asyncio.wait_for(pumps, _KILL_WAIT_S)
        return result
    finally:
        # Cancelled (timeout, kill) or done: nothing of the task may outlive its run.
        _kill_group(process)
        if process.returncode is None:
            with contextlib.suppress(TimeoutError, ProcessLookupError):
                await asyncio.wait_for(process.wait(), _KILL_WAIT_S)
        if not pumps.done():
            pumps.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pumps
