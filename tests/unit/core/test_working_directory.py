"""WorkingDirectory: the executor dispatches it whole, a worker runs its tasks in one
folder, and the report becomes one task run per task. The worker's side runs for real
here (files on disk, local storage), with a stand-in for its Kafka edges."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from schemas.commands import RestartExecution
from schemas.states import State
from schemas.worker import LogLine, TaskRunReport, WorkerJob
from streams.app.worker import Worker
from streams.app.working_directory import run_working_directory
from streams.core.expressions.engine import DEFAULT_LIMITS
from streams.deferred_lookups import TaskFolder, has_deferred, make_resolver, resolve_deferred
from streams.plugins.base import Outcome
from streams.storage.local import LocalStorage
from tests.unit.core.driver import REGISTRY, Sim
from tests.unit.core.helpers import flow
from tests.unit.core.wd_flows import FLOWS

WD = "io.kestra.plugin.core.flow.WorkingDirectory"
LOCAL = "io.kestra.plugin.core.storage.LocalFiles"
RETURN = "io.kestra.plugin.core.debug.Return"
PARENT_CHECK = "{{ workerTaskrun.id == taskrun.parentId }}"


class _Edges:
    """The worker's edges without Kafka: local storage, no secrets, no masking."""

    def __init__(self, root: Path) -> None:
        self.work_root = root / "work"
        self.storage = LocalStorage(root / "storage")
        self.render_limits = DEFAULT_LIMITS

    def context_fields(self, job: WorkerJob, now: Any) -> dict[str, Any]:
        return {
            "tenant": job.tenant,
            "task_id": job.task_id,
            "storage": self.storage,
            "work_root": self.work_root,
            "env": {"PATH": "/usr/bin:/bin"},
        }

    async def resolve(self, job: WorkerJob, now: Any, folder: Path | None = None) -> dict[str, Any]:
        # Only the working folder's variables (`{{ workingDir }}`): no secrets, KV or files.
        if folder is None or not has_deferred(job.task):
            return job.task
        task_folder = TaskFolder(lambda: folder, job.task_id, [])
        resolver = make_resolver({}, None, None, "kestra://main/", folder=task_folder)
        resolved = resolve_deferred(job.task, resolver)
        assert isinstance(resolved, dict)
        return resolved

    async def publishable(self, job: WorkerJob, outcome: Outcome) -> Outcome:
        return outcome

    def forget(self, job: WorkerJob) -> None:
        pass


class _Worker:
    def __init__(self, root: Path) -> None:
        self.edges = _Edges(root)
        self.registry = REGISTRY
        self.lines: list[LogLine] = []

    task_context = Worker.task_context  # only needs `edges`

    def log_writer(self, job: WorkerJob) -> Any:
        async def write(level: Any, message: str) -> None:
            self.lines.append(
                LogLine(
                    tenant=job.tenant,
                    namespace=job.namespace,
                    flow_id=job.flow_id,
                    execution_id=job.execution_id,
                    task_run_id=job.task_run_id,
                    task_id=job.task_id,
                    level=level,
                    message=message,
                    time=dt.datetime.now(dt.UTC),
                )
            )

        return write


def _run(
    source: str, worker: _Worker, inputs: Mapping[str, Any] | None = None, execution: str = "e1"
) -> Sim:
    """Runs the flow; each held WorkingDirectory job is run by `worker` and reported."""
    sim = Sim(source, hold=_wd_ids(source))
    sim.queue.append(sim.create(_flow_id(source), inputs, execution))
    sim.run()
    while sim.held:
        job = sim.held.pop(0)
        sim.send(sim.report(job, kind="started"))
        outcome = asyncio.run(run_working_directory(worker, job, _task(job), _now))  # type: ignore[arg-type]
        report = sim.report(
            job, state=outcome.state, outputs=dict(outcome.outputs), error=outcome.error
        )
        sim.send(report.model_copy(update={"children": outcome.children}))
        sim.run()
    sim.check()
    return sim


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _task(job: WorkerJob) -> Any:
    plugin = REGISTRY.get(str(job.task["type"]))
    assert plugin is not None
    return plugin.model_validate(job.task)


def _wd_ids(source: str) -> list[str]:
    lines = source.splitlines()
    return [
        lines[i - 1].split("id:", 1)[1].strip()
        for i, line in enumerate(lines)
        if line.strip() == f"type: {WD}"
    ]


def _flow_id(source: str) -> str:
    return next(
        line.split(":", 1)[1].strip() for line in source.splitlines() if line.startswith("id:")
    )


def _kestra(name: str) -> str:
    return FLOWS[name]


@pytest.fixture
def worker(tmp_path: Path) -> _Worker:
    return _Worker(tmp_path)


def _outputs(sim: Sim, task_id: str) -> dict[str, Any]:
    return sim.run_of(task_id).outputs


def test_tasks_share_one_folder_and_each_gets_its_own_task_run(worker: _Worker) -> None:
    # working-directory.yaml, failed=false: SUCCESS, four task runs; 2_end reads the URI
    # of the file `first` wrote and `second` (another task, same folder) stored.
    sim = _run(_kestra("working-directory.yaml"), worker, {"failed": "false"})
    state = sim.state()
    assert state.state == State.SUCCESS
    assert len(state.task_runs) == 4
    first, second, wd = sim.run_of("first"), sim.run_of("second"), sim.run_of("worker")
    assert first.parent_id == wd.id and second.parent_id == wd.id
    uri = _outputs(sim, "2_end")["value"]
    assert uri.startswith("kestra://")
    assert worker.edges.storage.get_bytes(uri).decode() == first.id  # {{ taskrun.id }}
    # The shared folder is gone afterwards.
    assert not any((worker.edges.work_root / "shared").iterdir())


def test_a_failing_task_stops_the_rest_and_the_errors_branch_runs(worker: _Worker) -> None:
    # working-directory.yaml, failed=true: FAILED, three task runs (one error-t1).
    sim = _run(_kestra("working-directory.yaml"), worker, {"failed": "true"})
    state = sim.state()
    assert state.state == State.FAILED
    assert sorted(r.task_id for r in state.task_runs.values()) == ["error-t1", "first", "worker"]
    assert sim.run_of("first").state == State.FAILED
    assert sim.run_of("worker").state == State.FAILED
    assert any(line.task_id == "first" and line.level == "ERROR" for line in worker.lines)


def test_output_files_and_input_files(worker: _Worker) -> None:
    # working-directory-outputs.yml: the WorkingDirectory's outputFiles holds the file.
    sim = _run(_kestra("working-directory-outputs.yml"), worker)
    assert sim.state().state == State.SUCCESS and len(sim.state().task_runs) == 2
    files = _outputs(sim, "workingDir")["outputFiles"]
    assert worker.edges.storage.get_bytes(files["output.txt"]).decode() == "Hello World"
    # working-directory-inputs.yml: the inputFiles are in the folder for its tasks.
    sim = _run(_kestra("working-directory-inputs.yml"), worker, execution="e2")
    state = sim.state("e2")
    assert state.state == State.SUCCESS and len(state.task_runs) == 2
    uris = sim.run_of("inputFiles", "e2").outputs["uris"]
    assert uris["input.txt"].endswith("input.txt")
    assert worker.edges.storage.get_bytes(uris["input.txt"]).decode() == "Hello World"


def test_the_cache_is_restored_on_the_next_run(worker: _Worker) -> None:
    # working-directory-cache.yml, run twice: no hello.txt at first, restored the second.
    source = _kestra("working-directory-cache.yml")
    sim = _run(source, worker)
    assert sim.state().state == State.SUCCESS and len(sim.state().task_runs) == 3
    assert _outputs(sim, "exists") == {"uris": {}}
    again = _run(source, worker, execution="e2")
    assert again.state("e2").state == State.SUCCESS
    assert "hello.txt" in again.run_of("exists", "e2").outputs["uris"]


def test_inside_nested_loops_outputs_are_keyed_by_every_value(worker: _Worker) -> None:
    # working-directory-each.yaml: SUCCESS, eight task runs, 2_end is a kestra:// URI.
    sim = _run(_kestra("working-directory-each.yaml"), worker)
    assert sim.state().state == State.SUCCESS
    assert len(sim.state().task_runs) == 8
    assert _outputs(sim, "2_end")["value"].startswith("kestra://")


def test_taskrun_value_and_earlier_outputs_render_on_the_worker(worker: _Worker) -> None:
    # working-directory-taskrun.yml: log-taskrun renders the ForEach value '1'.
    sim = _run(_kestra("working-directory-taskrun.yml"), worker)
    assert sim.state().state == State.SUCCESS and len(sim.state().task_runs) == 3
    assert "1" in _outputs(sim, "log-taskrun")["value"]
    source = flow(
        f"""
        tasks:
          - id: wd
            type: {WD}
            tasks:
              - id: first
                type: {RETURN}
                format: hello
              - id: second
                type: {RETURN}
                format: "{{{{ outputs.first.value }}}} {PARENT_CHECK}"
        """
    )
    sim = _run(source, worker, execution="e2")
    assert sim.run_of("second", "e2").outputs == {"value": "hello true"}


def test_working_dir_is_the_shared_folder_and_a_task_without_one_fails(
    worker: _Worker,
) -> None:
    source = flow(
        f"""
        tasks:
          - id: wd
            type: {WD}
            tasks:
              - id: write
                type: io.kestra.plugin.scripts.shell.Commands
                commands:
                  - echo "from write" > {{{{ workingDir }}}}/note.txt
              - id: read
                type: io.kestra.plugin.scripts.shell.Commands
                commands:
                  - test "{{{{ workingDir | lower }}}}" = "$(pwd | tr A-Z a-z)"
                  - note=$(cat {{{{ workingDir }}}}/note.txt)
                  - echo "::{{\\"outputs\\":{{\\"note\\":\\"$note\\"}}}}::"
              - id: say
                type: {RETURN}
                allowFailure: true
                format: "{{{{ workingDir }}}}"
        """
    )
    sim = _run(source, worker)
    assert sim.run_of("read").outputs["vars"] == {"note": "from write"}
    say = sim.run_of("say")
    assert say.state == State.FAILED and say.error is not None
    assert say.error.startswith("task say: {{ workingDir }} is only known on a worker")
    assert sim.state().state == State.WARNING


def test_an_allowed_failure_goes_on_and_warns(worker: _Worker) -> None:
    source = flow(
        f"""
        tasks:
          - id: wd
            type: {WD}
            tasks:
              - id: bad
                type: {RETURN}
                allowFailure: true
                format: "{{{{ nope }}}}"
              - id: after
                type: {RETURN}
                format: ran
        """
    )
    sim = _run(source, worker)
    assert sim.run_of("bad").state == State.FAILED
    assert sim.run_of("after").outputs == {"value": "ran"}
    assert sim.run_of("wd").state == State.WARNING
    assert sim.state().state == State.WARNING


def test_a_report_naming_unknown_runs_records_nothing_of_them() -> None:
    source = flow(
        f"""
        tasks:
          - id: wd
            type: {WD}
            tasks:
              - id: a
                type: {RETURN}
                format: x
        """
    )
    sim = Sim(source, hold=["wd"])
    sim.start("f")
    job = sim.held.pop()
    sim.send(sim.report(job, kind="started"))
    bogus = TaskRunReport.model_validate(
        {
            **sim.report(job).model_dump(),
            "children": [{"task_run_id": "x", "task_id": "a", "state": "SUCCESS"}],
        }
    )
    sim.send(bogus)
    sim.run()
    assert [r.task_id for r in sim.state().task_runs.values()] == ["wd"]
    assert sim.state().state == State.SUCCESS  # the WorkingDirectory's own report ends it


def test_run_if_false_skips_a_task_and_a_timeout_stops_one(worker: _Worker) -> None:
    source = flow(
        f"""
        tasks:
          - id: wd
            type: {WD}
            tasks:
              - id: skipped
                type: {RETURN}
                runIf: "{{{{ 1 == 2 }}}}"
                format: never
              - id: slow
                type: io.kestra.plugin.scripts.shell.Commands
                timeout: PT0.2S
                commands: ["sleep 5"]
        """
    )
    sim = _run(source, worker)
    assert sim.run_of("skipped").state == State.SKIPPED
    slow = sim.run_of("slow")
    assert slow.state == State.FAILED and "timed out" in (slow.error or "")
    assert sim.state().state == State.FAILED


def test_a_restarted_working_directory_runs_its_tasks_again_as_a_new_attempt(
    worker: _Worker,
) -> None:
    sim = _run(_kestra("working-directory.yaml"), worker, {"failed": "true"})
    assert sim.state().state == State.FAILED
    sim.send(RestartExecution(command_id="restart1", execution_id="e1", time=sim.now))
    sim.run()
    job = sim.held.pop(0)
    assert job.task_id == "worker" and job.attempt == 2
    sim.send(sim.report(job, kind="started"))
    outcome = asyncio.run(run_working_directory(worker, job, _task(job), _now))  # type: ignore[arg-type]
    sim.send(sim.report(job, state=outcome.state).model_copy(update={"children": outcome.children}))
    sim.run()
    sim.check()
    # Still failing (the input did not change): a second `first`, FAILED, in attempt 2.
    assert sim.state().state == State.FAILED
    firsts = sim.runs("first")
    assert len(firsts) == 2 and firsts[-1].state == State.FAILED
    # The first attempt's `first` is not left RESTARTED: it says what replaced it.
    assert firsts[0].state == State.FAILED and "attempt 2" in (firsts[0].error or "")
    assert all(r.state.is_terminal for r in sim.state().task_runs.values())
    assert len(sim.run_of("worker").attempts) == 2
