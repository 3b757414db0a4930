"""The `kestra` helper library inside script tasks, Kestra's `::{...}::` protocol, and
Node.js tasks with `@kestra-io/libs`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from schemas.states import State
from streams.plugins.scripts import NodeCommands, NodeScript, PythonScript, ShellCommands
from streams.plugins.scripts.protocol import ProtocolError, parse_protocol
from tests.unit.test_tasks_helpers import Recorder, make_ctx

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

KESTRA_SCRIPT = """
from kestra import Kestra
import time
Kestra.outputs({"rows": 42, "name": "orders"})
Kestra.counter("rows", 42, {"table": "orders"})
Kestra.timer("load", 1.5)
Kestra.timer("sleep", lambda: time.sleep(0.05))
Kestra.gauge("lag", 7)
log = Kestra.logger()
log.debug("debug line")
log.info("info line")
log.warning("warn line")
log.error("error line")
print("plain output")
"""


def _python(script: str, **props: object) -> PythonScript:
    return PythonScript.model_validate(
        {"id": "t1", "type": "scripts.python.Script", "script": script, **props}
    )


async def test_a_kestra_python_script_reports_outputs_metrics_and_logs(tmp_path: Path) -> None:
    rec = Recorder()
    outcome = await _python(KESTRA_SCRIPT).run(make_ctx(tmp_path, rec))
    assert outcome.state == State.SUCCESS, outcome.error
    assert outcome.outputs["vars"] == {"rows": 42, "name": "orders"}
    by_name = {m.name: m for m in outcome.metrics}
    assert set(by_name) == {"rows", "load", "sleep", "lag"}
    assert (by_name["rows"].type, by_name["rows"].value) == ("counter", 42.0)
    assert by_name["rows"].tags == {"table": "orders"}
    assert (by_name["load"].type, by_name["load"].value) == ("timer", 1.5)
    assert by_name["load"].view_value == 1500.0  # shown in ms, as Kestra's MetricEntry
    assert 0.04 < by_name["sleep"].value < 5
    assert by_name["lag"].type == "gauge"
    levels = {message.split(" - ", 1)[-1]: level for level, message in rec.lines}
    assert levels == {
        "debug line": "DEBUG",
        "info line": "INFO",
        "warn line": "WARN",
        "error line": "ERROR",
        "plain output": "INFO",
    }


async def test_kestra_is_importable_from_shell_commands_running_python(tmp_path: Path) -> None:
    rec = Recorder()
    task = ShellCommands.model_validate(
        {
            "id": "t1",
            "type": "scripts.shell.Commands",
            "inputFiles": {"main.py": "from kestra import Kestra\nKestra.outputs({'ok': True})"},
            "commands": ["python3 main.py"],
        }
    )
    outcome = await task.run(make_ctx(tmp_path, rec))
    assert outcome.state == State.SUCCESS, (outcome.error, rec.lines)
    assert outcome.outputs["vars"] == {"ok": True}


async def test_a_malformed_protocol_line_fails_the_run_naming_the_line(tmp_path: Path) -> None:
    rec = Recorder()
    outcome = await _python('print("hello")\nprint(\'::{"outputs": {"a": 1,}}::\')').run(
        make_ctx(tmp_path, rec)
    )
    assert outcome.state == State.FAILED
    assert outcome.error is not None
    assert "task t1: unreadable ::{...}:: line 2 of stdout (not valid JSON" in outcome.error
    assert ("INFO", "hello") in rec.lines
    assert any(level == "ERROR" and "line 2 of stdout" in m for level, m in rec.lines)


async def test_a_metric_without_a_number_fails_the_run(tmp_path: Path) -> None:
    script = "from kestra import Kestra\nKestra.counter('rows', 'many')"
    outcome = await _python(script).run(make_ctx(tmp_path, Recorder()))
    assert outcome.state == State.FAILED
    assert outcome.error is not None
    assert "metric 'rows': value must be a number, not 'many'" in outcome.error


def test_protocol_lines_are_read_as_kestra_writes_them() -> None:
    assert parse_protocol("plain", NOW) is None
    assert parse_protocol(":: not json ::", NOW) is None
    message = parse_protocol(
        '::{"metrics": [{"name": "t", "type": "timer", "value": "PT2S"}], "assets": {}}::', NOW
    )
    assert message is not None and message.metrics[0].value == 2.0
    for bad, reason in [
        ("::{nope}::", "not valid JSON"),
        ('::{"outputs": [1]}::', "`outputs` must be an object"),
        ('::{"metrics": [{"name": "x", "type": "histogram", "value": 1}]}::', "type"),
        ('::{"metrics": [{"name": "x", "type": "counter", "value": NaN}]}::', "finite"),
        ('::{"logs": [{"level": "LOUD", "message": "m"}]}::', "unknown log level"),
    ]:
        with pytest.raises(ProtocolError, match=reason):
            parse_protocol(bad, NOW)


NODE_SCRIPT = """
const Kestra = require("@kestra-io/libs");
Kestra.outputs({ total: 3, names: ["a", "b"] });
Kestra.counter("rows", 3, { source: "node" });
Kestra.timer("work", 0.25);
Kestra.logger().warn("careful");
console.log("from node " + process.version.startsWith("v"));
"""


async def test_a_node_script_reports_through_kestra_libs(tmp_path: Path) -> None:
    rec = Recorder()
    task = NodeScript.model_validate(
        {"id": "t1", "type": "io.kestra.plugin.scripts.node.Script", "script": NODE_SCRIPT}
    )
    outcome = await task.run(make_ctx(tmp_path, rec))
    assert outcome.state == State.SUCCESS, (outcome.error, rec.lines)
    assert outcome.outputs["vars"] == {"total": 3, "names": ["a", "b"]}
    assert [(m.name, m.type, m.value, m.tags) for m in outcome.metrics] == [
        ("rows", "counter", 3.0, {"source": "node"}),
        ("work", "timer", 0.25, {}),
    ]
    assert ("WARN", "careful") in rec.lines
    assert ("INFO", "from node true") in rec.lines


async def test_node_commands_run_files_and_fail_with_nodes_exit(tmp_path: Path) -> None:
    rec = Recorder()
    task = NodeCommands.model_validate(
        {
            "id": "t1",
            "type": "io.kestra.plugin.scripts.node.Commands",
            "inputFiles": {"main.js": "console.log('in main'); process.exit(3)"},
            "commands": ["node main.js"],
        }
    )
    outcome = await task.run(make_ctx(tmp_path, rec))
    assert outcome.state == State.FAILED
    assert outcome.error == "task t1: command exited with code 3"
    assert ("INFO", "in main") in rec.lines


async def test_node_missing_fails_saying_so(tmp_path: Path) -> None:
    task = NodeScript.model_validate(
        {
            "id": "t1",
            "type": "io.kestra.plugin.scripts.node.Script",
            "script": "1",
            "env": {"PATH": str(tmp_path)},  # a worker whose PATH has no node
        }
    )
    outcome = await task.run(make_ctx(tmp_path, Recorder()))
    assert outcome.state == State.FAILED
    assert outcome.error is not None
    assert outcome.error.startswith("task t1: node was not found on this worker's PATH")
