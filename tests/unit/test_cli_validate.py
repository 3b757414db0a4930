"""`lanner flow validate` and `lanner schema flow`, through typer's test runner."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from api.cli import flow, schema

DATA = Path(__file__).parent / "data"
GOOD = (
    "id: hello\nnamespace: company.team\ntasks:\n  - id: hi\n    type: log.Log\n    message: hi\n"
)
BAD = "id: broken\nnamespace: company.team\ntasks:\n  - id: hi\n    type: log.Lg\n    message: hi\n"

# Mounted as in api.cli.main, without importing the other command groups; a typer app
# with a single command would otherwise be run as that command, without its name.
root = typer.Typer()
root.add_typer(flow.app, name="flow")
root.add_typer(schema.app, name="schema")
runner = CliRunner()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_files_exit_0_and_name_their_flows(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yml", GOOD)
    result = runner.invoke(root, ["flow", "validate", str(good), str(DATA)])
    assert result.exit_code == 0, result.output
    assert f"✓ {good} (company.team.hello)" in result.output
    assert "(company.team.hello_world)" in result.output


def test_any_invalid_file_exits_1_and_shows_its_problems(tmp_path: Path) -> None:
    write(tmp_path, "good.yaml", GOOD)
    write(tmp_path, "bad.yml", BAD)
    write(tmp_path, "notes.txt", "not a flow")
    # Wide enough that rich does not wrap the table's messages.
    result = runner.invoke(root, ["flow", "validate", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "✓" in result.output and "(company.team.hello)" in result.output
    assert "bad.yml (1 problem)" in result.output
    assert "tasks[0].type" in result.output
    assert "unknown task type 'log.Lg'" in result.output
    assert "notes.txt" not in result.output


def test_json_output_lists_every_file_with_its_problems(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yml", GOOD)
    bad = write(tmp_path, "bad.yml", BAD)
    missing = tmp_path / "missing.yml"
    result = runner.invoke(
        root, ["flow", "validate", "--output", "json", str(good), str(bad), str(missing)]
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report[0] == {"file": str(good), "valid": True, "problems": []}
    assert report[1]["file"] == str(bad)
    assert report[1]["valid"] is False
    (problem,) = report[1]["problems"]
    assert problem["path"] == "tasks[0].type"
    assert problem["line"] == 5
    assert "did you mean" in problem["message"]
    assert report[2] == {
        "file": str(missing),
        "valid": False,
        "problems": [{"path": "", "line": None, "message": "no such file or directory"}],
    }


def test_json_output_of_valid_files_exits_0(tmp_path: Path) -> None:
    result = runner.invoke(root, ["flow", "validate", "-o", "json", str(DATA)])
    assert result.exit_code == 0, result.output
    assert all(item["valid"] for item in json.loads(result.stdout))


def test_schema_flow_prints_a_schema_with_a_oneof_of_task_plugins() -> None:
    result = runner.invoke(root, ["schema", "flow"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["properties"]["tasks"]["items"] == {"$ref": "#/$defs/TaskSpec"}
    alternatives = document["$defs"]["TaskSpec"]["oneOf"]
    log = document["$defs"]["Log"]
    assert {"$ref": "#/$defs/Log"} in alternatives
    assert "io.kestra.plugin.core.log.Log" in log["properties"]["type"]["enum"]
    assert "message" in log["required"]
    # Nested task lists refer back to the same union of plugins.
    assert document["$defs"]["If"]["properties"]["then"]["items"] == {"$ref": "#/$defs/TaskSpec"}
    assert document["$defs"]["Dag"]["properties"]["tasks"]["items"] == {"$ref": "#/$defs/DagTask"}
