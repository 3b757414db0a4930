"""Shell and Python script tasks run as local processes."""

from __future__ import annotations

import sys
from pathlib import Path

from schemas.states import State
from streams.plugins.scripts import PythonCommands, PythonScript, ShellCommands, ShellScript
from streams.plugins.scripts.process import MAX_LINE_BYTES
from tests.unit.test_tasks_helpers import Recorder, make_ctx


def _shell(**props: object) -> ShellCommands:
    return ShellCommands.model_validate({"id": "t1", "type": "scripts.shell.Commands", **props})


async def test_commands_stream_logs_set_outputs_and_publish_files(tmp_path: Path) -> None:
    rec = Recorder()
    task = _shell(
        beforeCommands=["echo before"],
        commands=[
            "echo hello $WHO",
            "echo oops >&2",
            'echo \'::{"outputs":{"count":3,"name":"x"}}::\'',
            "mkdir -p out && echo data > out/a.csv && echo more > out/b.csv",
        ],
        env={"WHO": "Ada"},
        outputFiles=["out/*.csv"],
    )
    outcome = await task.run(make_ctx(tmp_path, rec))
    assert outcome.state == State.SUCCESS, outcome.error
    assert rec.lines == [("INFO", "before"), ("INFO", "hello Ada"), ("WARN", "oops")]
    assert outcome.outputs["vars"] == {"count": 3, "name": "x"}
    files = outcome.outputs["outputFiles"]
    assert set(files) == {"out/a.csv", "out/b.csv"}
    assert files["out/a.csv"].startswith("kestra://main/company/team/flow1/executions/exec1/")
    assert (tmp_path / "storage").exists()
    # The working directory is gone afterwards.
    assert list((tmp_path / "work" / "runs").iterdir()) == []


async def test_output_dir_files_become_output_files_in_the_prepared_folder(
    tmp_path: Path,
) -> None:
    # `{{ outputDir }}` was resolved by the worker (streams/worker_edges.py), which made the
    # folder and its output-<task id> folder; `outputDirectory: true` sets $OUTPUT_DIR.
    folder = tmp_path / "prepared"
    (folder / "output-t1").mkdir(parents=True)
    task = _shell(
        outputDirectory=True,
        commands=[
            f"echo one > {folder}/output-t1/one.txt",
            'mkdir -p "$OUTPUT_DIR/deep" && echo two > "$OUTPUT_DIR/deep/two.txt"',
            'test "$WORKING_DIR" = "$(pwd)" && echo "$WORKING_DIR"',
        ],
    )
    rec = Recorder()
    ctx = make_ctx(tmp_path, rec, prepared_dir=folder)
    outcome = await task.run(ctx)
    assert outcome.state == State.SUCCESS, outcome.error
    assert rec.lines == [("INFO", str(folder))]
    files = outcome.outputs["outputFiles"]
    assert set(files) == {"one.txt", "deep/two.txt"}
    assert ctx.storage is not None and ctx.storage.get_bytes(files["deep/two.txt"]) == b"two\n"
    assert not folder.exists()


async def test_non_zero_exit_fails_with_the_code(tmp_path: Path) -> None:
    outcome = await _shell(commands=["echo first", "exit 7", "echo never"]).run(
        make_ctx(tmp_path, Recorder())
    )
    assert outcome.state == State.FAILED
    assert outcome.error is not None and "exited with code 7" in outcome.error


async def test_output_never_written_fails_with_that_reason(tmp_path: Path) -> None:
    outcome = await _shell(commands=["true"], outputFiles=["report.csv"]).run(
        make_ctx(tmp_path, Recorder())
    )
    assert outcome.state == State.FAILED
    assert outcome.error is not None and "'report.csv' was never written" in outcome.error


async def test_missing_interpreter_fails(tmp_path: Path) -> None:
    shell = _shell(commands=["true"], interpreter=["/nonexistent/sh", "-c"])
    outcome = await shell.run(make_ctx(tmp_path, Recorder()))
    assert outcome.error is not None and "'/nonexistent/sh' was not found" in outcome.error
    python = PythonScript.model_validate(
        {"id": "p", "type": "scripts.python.Script", "script": "print(1)", "python": "nope3.99"}
    )
    outcome = await python.run(make_ctx(tmp_path, Recorder()))
    assert outcome.state == State.FAILED
    assert outcome.error is not None and "'nope3.99' was not found" in outcome.error


async def test_input_files_from_text_and_storage(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, Recorder())
    assert ctx.storage is not None
    uri = ctx.storage.put_bytes("kestra://main/company/team/f/x.txt", b"stored\n")
    rec = Recorder()
    outcome = await _shell(
        commands=["cat a.txt sub/b.txt"], inputFiles={"a.txt": "inline\n", "sub/b.txt": uri}
    ).run(make_ctx(tmp_path, rec))
    assert outcome.state == State.SUCCESS, outcome.error
    assert rec.messages() == ["inline", "stored"]
    bad = await _shell(commands=["true"], inputFiles={"../escape": "x"}).run(ctx)
    assert bad.state == State.FAILED and bad.error and "relative path" in bad.error
    other = await _shell(commands=["true"], inputFiles={"a": "kestra://other/x"}).run(ctx)
    assert other.state == State.FAILED and other.error and "another tenant" in other.error


async def test_long_lines_are_split_and_script_runs(tmp_path: Path) -> None:
    rec = Recorder()
    script = ShellScript.model_validate(
        {
            "id": "s",
            "type": "scripts.shell.Script",
            "script": f"head -c {MAX_LINE_BYTES * 2 + 5} /dev/zero | tr '\\0' x; echo",
        }
    )
    outcome = await script.run(make_ctx(tmp_path, rec))
    assert outcome.state == State.SUCCESS
    assert [len(m) for m in rec.messages()] == [MAX_LINE_BYTES, MAX_LINE_BYTES, 5]


async def test_python_script_uses_the_workers_interpreter(tmp_path: Path) -> None:
    rec = Recorder()
    task = PythonScript.model_validate(
        {
            "id": "p",
            "type": "scripts.python.Script",
            "script": "import sys, json\nprint(sys.executable)\n"
            'print("::" + json.dumps({"outputs": {"n": 2}}) + "::")',
        }
    )
    outcome = await task.run(make_ctx(tmp_path, rec))
    assert outcome.state == State.SUCCESS, outcome.error
    assert rec.messages() == [sys.executable]
    assert outcome.outputs["vars"] == {"n": 2}


async def test_python_commands_have_python_on_path(tmp_path: Path) -> None:
    rec = Recorder()
    task = PythonCommands.model_validate(
        {
            "id": "p",
            "type": "scripts.python.Commands",
            "commands": ["python -c 'import sys; print(sys.version_info[0])'"],
        }
    )
    outcome = await task.run(make_ctx(tmp_path, rec))
    assert outcome.state == State.SUCCESS, outcome.error
    assert rec.messages() == ["3"]


async def test_failing_dependency_install_fails_with_pips_reason(tmp_path: Path) -> None:
    rec = Recorder()
    task = PythonScript.model_validate(
        {
            "id": "p",
            "type": "scripts.python.Script",
            "script": "print(1)",
            "dependencies": ["lanner-no-such-package-6f1c2d"],
        }
    )
    outcome = await task.run(make_ctx(tmp_path, rec))
    assert outcome.state == State.FAILED
    assert outcome.error is not None and "installing dependencies" in outcome.error
    assert any("lanner-no-such-package-6f1c2d" in m for m in rec.messages())
    assert not any(p.is_dir() for p in (tmp_path / "work" / "venvs").iterdir())
