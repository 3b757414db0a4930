"""Record the event histories that tests/unit/test_recorded_histories.py replays.

    .venv/bin/python -m tests.harness.record_histories            # every scenario
    .venv/bin/python -m tests.harness.record_histories kill dag   # some of them
    .venv/bin/python -m tests.harness.record_histories --out /tmp/h  # elsewhere, to compare

What it does: starts a real one-node Kafka broker (the harness's, from the cache under
~/.cache/lanner; or uses LANNER_KAFKA_BOOTSTRAP when set), an executor and a worker as
`lanner server` processes with the project's task plugins (tests/integration/
task_cluster.py), all under a fresh topic prefix. Then, for each scenario NAME: deploys
the flows of tests/data/histories/NAME.yml (their namespace is `histories.NAME`), runs
its executions and sends its operator commands (resume, kill, restart, replay) through
the same gateway the API uses, waits until every execution of the namespace has ended
and the log has gone quiet, and writes the namespace's records as `lanner log export`
writes them (flow-events, execution-events, commands, worker-results; the log lines,
which decide nothing, are left out) to tests/data/histories/NAME.jsonl. Each file is
then replayed once with the code of `lanner replay verify --file`, and the run fails
if the file does not reproduce its own recording.

Re-record only after a deliberate change of behaviour, and review the new files' diff:
the recordings are the reference the executor's decisions are checked against, and
re-recording to silence a divergence nobody can explain throws away the one test that
saw the change (tests/unit/test_recorded_histories.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from schemas.decode import decode_execution_event
from schemas.events import ExecutionCreated, ExecutionEvent
from schemas.execution import Execution
from streams.core.evolve import evolve
from streams.histories.export_file import verify_export
from streams.plugins.registry import PluginRegistry

if TYPE_CHECKING:  # the cluster's machinery is imported by the run, not by a reader of
    # SCENARIOS (tests/unit/test_recorded_histories.py)
    from tests.integration.cluster import Cluster

HISTORIES = Path(__file__).resolve().parents[1] / "data" / "histories"
LEFT_OUT = frozenset({"logs"})  # what an export holds that no decision reads
QUIET_S = 2.0  # the log is settled when nothing was added for this long
TIMEOUT_S = 120.0


@dataclass
class Scenario:
    """One recording: its cluster, its namespace, and what it asked for."""

    cluster: Cluster
    name: str
    started: list[str] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return f"histories.{self.name}"

    def create(self, flow_id: str, inputs: dict[str, object] | None = None) -> str:
        requested = self.cluster.create(self.namespace, flow_id, inputs)
        self.started.append(requested.execution_id)
        return requested.execution_id

    def history(self, execution_id: str) -> list[ExecutionEvent]:
        events = {e.seq: e for e in self.cluster.events_of(execution_id)}
        return [events[s] for s in sorted(events)]

    def wait_event(self, execution_id: str, event_type: str, count: int = 1) -> Execution:
        """Until the execution's history holds `count` events of that type; its state then."""
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            history = self.history(execution_id)
            if sum(e.type == event_type for e in history) >= count:
                return _fold(history)
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: {execution_id} never had {count} {event_type}")

    def until_ended(self, execution_id: str) -> Execution:
        return self.cluster.wait_for_end(execution_id, TIMEOUT_S)

    def settle(self, executions: int) -> None:
        """Until the namespace holds `executions` executions, all ended, and its records
        stopped growing for QUIET_S (late reports of a killed task, a retry's timer)."""
        deadline = time.monotonic() + TIMEOUT_S
        last: tuple[int, dict[str, bool]] | None = None
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            now = self._snapshot()
            if now != last:
                last, quiet_since = now, time.monotonic()
            _inputs, ended = now
            done = len(ended) >= executions and all(ended.values())
            if done and time.monotonic() - quiet_since >= QUIET_S:
                return
            time.sleep(0.3)
        raise AssertionError(f"{self.name}: the namespace did not settle: {last}")

    def _snapshot(self) -> tuple[int, dict[str, bool]]:
        """How many inputs the namespace's executions have, and whether each has ended."""
        topics = self.cluster.topics
        mine: dict[str, Execution] = {}
        for record in self.cluster.records(topics.execution_events):
            event = decode_execution_event(record.value)
            if isinstance(event, ExecutionCreated) and event.namespace == self.namespace:
                mine[event.execution_id] = evolve(None, event)
            elif event.execution_id in mine and event.seq == mine[event.execution_id].seq + 1:
                mine[event.execution_id] = evolve(mine[event.execution_id], event)
        inputs = sum(
            1
            for topic in (topics.commands, topics.worker_results)
            for r in self.cluster.records(topic)
            if r.key in mine
        )
        return inputs, {eid: e.state.is_terminal for eid, e in mine.items()}


def _fold(history: list[ExecutionEvent]) -> Execution:
    state: Execution | None = None
    for event in history:
        state = evolve(state, event)
    assert state is not None
    return state


def _run_to_end(flow_id: str, executions: int = 1) -> Callable[[Scenario], int]:
    def run(s: Scenario) -> int:
        s.until_ended(s.create(flow_id))
        return executions

    return run


def _pause_resume(s: Scenario) -> int:
    eid = s.create("pause_resume")
    s.wait_event(eid, "ExecutionPaused")
    s.cluster.executions.resume(eid, actor="recorder")
    s.until_ended(eid)
    return 1


def _kill(s: Scenario) -> int:
    eid = s.create("kill")
    s.wait_event(eid, "TaskRunRunning")  # the Sleep runs on the worker
    s.cluster.executions.kill(eid, actor="recorder")
    s.until_ended(eid)
    return 1


def _executor_crash(s: Scenario) -> int:
    """The executor is SIGKILLed while a task sleeps on the worker, and started again: the
    report it missed, and any input it had not committed, reach the new process."""
    eid = s.create("executor_crash")
    s.wait_event(eid, "TaskRunRunning")
    s.cluster.kill("executor")
    s.cluster.start("executor")
    s.cluster.wait_ready("executor")
    s.until_ended(eid)
    return 1


def _restart(s: Scenario) -> int:
    eid = s.create("restart")
    s.until_ended(eid)
    s.cluster.executions.restart(eid, actor="recorder")
    s.wait_event(eid, "ExecutionRestarted")
    s.wait_event(eid, "ExecutionFailed", count=2)
    return 1


def _replay(s: Scenario) -> int:
    eid = s.create("replay")
    done = s.until_ended(eid)
    second = next(r for r in done.task_runs.values() if r.task_id == "second")
    new_id, _command = s.cluster.executions.replay(eid, "recorder", second.id, None)
    s.until_ended(new_id)
    return 2


def _subflow(s: Scenario) -> int:
    s.until_ended(s.create("parent"))
    return 2  # the parent and its child


def _for_each_item(s: Scenario) -> int:
    from streams.storage import LocalStorage

    storage = LocalStorage(Path(s.cluster.env["LANNER_STORAGE_DIR"]))
    uri = storage.put_bytes(
        f"kestra://main/{s.namespace.replace('.', '/')}/uploads/items.txt", b"a\nb\nc\n"
    )
    s.until_ended(s.create("for_each_item", {"file": uri}))
    return 3  # the parent and a subflow execution per batch of two rows


def _flow_retry(s: Scenario) -> int:
    s.until_ended(s.create("flow_retry"))
    return 2  # maxAttempt 2: the first execution and one new execution


SCENARIOS: dict[str, Callable[[Scenario], int]] = {
    "sequential": _run_to_end("sequential"),
    "parallel": _run_to_end("parallel"),
    "if": _run_to_end("if"),
    "switch": _run_to_end("switch"),
    "for_each": _run_to_end("for_each"),
    "each_sequential_parallel": _run_to_end("each_sequential_parallel"),
    "dag": _run_to_end("dag"),
    "allow_failure": _run_to_end("allow_failure"),
    "fail_allow_warning": _run_to_end("fail_allow_warning"),
    "pause_resume": _pause_resume,
    "pause_timeout": _run_to_end("pause_timeout"),
    "wait_for": _run_to_end("wait_for"),
    "for_each_item": _for_each_item,
    "working_directory": _run_to_end("working_directory"),
    "shell_commands": _run_to_end("shell_commands"),
    "task_retry": _run_to_end("task_retry"),
    "flow_retry": _flow_retry,
    "errors_finally": _run_to_end("errors_finally"),
    "kill": _kill,
    "restart": _restart,
    "executor_crash": _executor_crash,
    "replay": _replay,
    "subflow": _subflow,
}


def flow_sources(name: str) -> list[str]:
    """The flows a scenario deploys, one YAML document each, in deployment order."""
    text = (HISTORIES / f"{name}.yml").read_text(encoding="utf-8")
    return [doc.strip() + "\n" for doc in text.split("\n---\n") if doc.strip()]


def export_lines(cluster: Cluster, namespace: str) -> list[str]:
    from streams.log.transfer import export_namespace

    out = io.StringIO()
    export_namespace(cluster.settings.kafka_bootstrap, cluster.topics, namespace, out)
    return [
        line + "\n"
        for line in out.getvalue().splitlines()
        if json.loads(line)["topic"] not in LEFT_OUT
    ]


def record(cluster: Cluster, name: str, out: Path = HISTORIES) -> Path:
    scenario = Scenario(cluster, name)
    for source in flow_sources(name):
        cluster.deploy(source)
    executions = SCENARIOS[name](scenario)
    scenario.settle(executions)
    lines = export_lines(cluster, scenario.namespace)
    target = out / f"{name}.jsonl"
    target.write_text("".join(lines), encoding="utf-8")
    report, stats = verify_export(lines, PluginRegistry.discover())
    problems = [d.describe() for d in report.divergences]
    if stats.malformed or problems or report.executions != executions:
        raise AssertionError(
            f"{target.name}: {report.executions} executions (expected {executions}), "
            f"{stats.malformed} malformed, divergences: {problems}"
        )
    print(f"{target.name}: {report.executions} executions, {len(lines)} lines", flush=True)
    return target


@contextlib.contextmanager
def _bootstrap() -> Iterator[str]:
    from tests.harness.kafka_broker import KafkaBroker

    configured = os.environ.get("LANNER_KAFKA_BOOTSTRAP")
    if configured:
        yield configured
        return
    with KafkaBroker() as broker:
        yield broker.bootstrap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(SCENARIOS))
    parser.add_argument(
        "--out",
        type=Path,
        default=HISTORIES,
        help="Where to write NAME.jsonl (default: tests/data/histories, the fixtures).",
    )
    args = parser.parse_args(argv)
    names = args.names or list(SCENARIOS)
    args.out.mkdir(parents=True, exist_ok=True)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    from tests.integration.task_cluster import task_cluster

    prefix = f"histories{secrets.token_hex(3)}"
    with _bootstrap() as bootstrap, task_cluster(bootstrap, prefix, worker_threads=2) as cluster:
        failed = []
        for name in names:
            try:
                record(cluster, name, args.out)
            except AssertionError as exc:
                failed.append(name)
                print(f"{name}: FAILED: {exc}", file=sys.stderr)
    if failed:
        print(f"not recorded: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
