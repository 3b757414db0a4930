"""A Kestra user's first day, on `lanner server local` as `./dev run` starts it: the README's
"Try it" walked with the command line, secrets and KV at once, ports that are taken.

One server for the module (a copy of ./flows in a temporary folder, free ports); every
command runs as a user types it, as a subprocess of the installed `lanner`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness.common import free_ports

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LANNER = [sys.executable, "-m", "api.cli.main"]
START_TIMEOUT_S = 240.0  # a loaded 2-core CI machine; idle it is seconds


class LocalServer:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.api_port, self.kafka_port, self.es_port = free_ports(3)
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.env = {
            **os.environ,
            "LANNER_API_PORT": str(self.api_port),
            "LANNER_LOCAL_KAFKA_PORT": str(self.kafka_port),
            "LANNER_LOCAL_ELASTICSEARCH_PORT": str(self.es_port),
            "LANNER_URL": self.url,
            "LANNER_SCHEDULER_ENABLED": "false",
            "PYTHONPATH": str(ROOT),
            "COLUMNS": "120",
        }
        for name in (
            "LANNER_SECRET_KEY",
            "LANNER_KAFKA_BOOTSTRAP",
            "LANNER_ELASTICSEARCH_URL",
            "LANNER_TENANT_ID",
            "LANNER_TOKEN",
        ):
            self.env.pop(name, None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "server.log"

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*LANNER, "server", "local"],
                cwd=self.workdir,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            if "Lanner is up" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.5)
        raise AssertionError(f"server local not up: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def deploy(self, name: str, source: str) -> None:
        """Write `source` to <workdir>/<name>.yml and deploy it as a user would."""
        path = self.workdir / f"{name}.yml"
        path.write_text(source)
        deployed = self.cli("flow", "deploy", str(path))
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr

    def cli(
        self, *args: str, stdin: str | None = None, timeout_s: float = 180.0
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*LANNER, *args],
            cwd=self.workdir,
            env=self.env,
            text=True,
            input=stdin,
            capture_output=True,
            timeout=timeout_s,
        )


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    workdir = tmp_path_factory.mktemp("first-day")
    shutil.copytree(ROOT / "flows", workdir / "flows")
    server = LocalServer(workdir)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def test_the_readme_try_it_walked_with_the_command_line(local: LocalServer) -> None:
    validated = local.cli("flow", "validate", "flows/")
    assert validated.returncode == 0, validated.stdout + validated.stderr

    ran = local.cli(
        "execution",
        "run",
        "company.team",
        "hello_world",
        "--input",
        "user=Ada",
        "--wait",
        "-o",
        "json",
    )
    assert ran.returncode == 0, ran.stderr
    done = json.loads(ran.stdout)
    assert done["state"]["current"] == "SUCCESS"
    assert done["outputs"] == {"greeting": "HELLO ADA"}

    # Without --wait: the id on stdout at once; the list shows it right away.
    started = local.cli("execution", "run", "company.team", "hello_world", "-i", "user=Bob")
    assert started.returncode == 0, started.stderr
    execution_id = started.stdout.strip()
    assert execution_id and " " not in execution_id
    listed = local.cli("execution", "list", "--namespace", "company.team", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    assert execution_id in [e["id"] for e in json.loads(listed.stdout)["results"]]

    followed = local.cli("execution", "follow", execution_id)
    assert followed.returncode == 0, followed.stderr
    assert "SUCCESS" in followed.stdout
    # The log lines written before `follow` started are there too.
    assert "Hello, Bob!" in followed.stdout, followed.stdout

    got = local.cli("execution", "get", execution_id)
    assert got.returncode == 0, got.stderr
    for word in ("greet", "shout", "#1 SUCCESS", "ATTEMPTS", "DURATION", '"value": "BOB"'):
        assert word in got.stdout, got.stdout
    as_yaml = local.cli("execution", "get", execution_id, "-o", "yaml")
    assert f"id: {execution_id}" in as_yaml.stdout

    events = local.cli("execution", "events", execution_id, "-o", "json")
    assert json.loads(events.stdout)[0]["type"] == "ExecutionCreated"

    deployed = local.cli("flow", "deploy", "flows/hello_world.yml")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr


def test_run_exit_codes_follow_the_final_state_and_refusals(local: LocalServer) -> None:
    local.deploy(
        "failing",
        "id: failing\nnamespace: company.team\ntasks:\n"
        "  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n"
        "    errorMessage: on purpose\n",
    )
    failed = local.cli("execution", "run", "company.team", "failing", "--follow")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "FAILED" in failed.stdout

    unknown = local.cli("execution", "run", "company.team", "no_such_flow", "--wait")
    assert unknown.returncode == 2
    assert "no_such_flow" in unknown.stderr
    bad_pair = local.cli("execution", "run", "company.team", "hello_world", "--input", "user")
    assert bad_pair.returncode == 2
    assert "KEY=VALUE" in bad_pair.stderr


def test_a_file_input_is_uploaded_with_the_execution(local: LocalServer) -> None:
    local.deploy(
        "with_file",
        "id: with_file\nnamespace: company.team\ninputs:\n  - id: data\n    type: FILE\n"
        "tasks:\n  - id: show\n    type: io.kestra.plugin.core.debug.Return\n"
        '    format: "{{ read(inputs.data) }}"\n',
    )
    payload = local.workdir / "payload.txt"
    payload.write_text("the file's content")
    ran = local.cli(
        "execution",
        "run",
        "company.team",
        "with_file",
        "--file",
        f"data={payload}",
        "--wait",
        "-o",
        "json",
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    done = json.loads(ran.stdout)
    assert done["inputs"]["data"].startswith("kestra://")
    [show] = [r for r in done["taskRunList"] if r["taskId"] == "show"]
    assert show["outputs"]["value"] == "the file's content"


def test_secrets_work_out_of_the_box_with_a_key_made_on_first_start(local: LocalServer) -> None:
    key_file = local.workdir / ".lanner" / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    stored = local.cli("secret", "set", "company.team", "API_TOKEN", stdin="s3cr3t\n")
    assert stored.returncode == 0, stored.stderr
    listed = local.cli("secret", "list", "company.team", "-o", "json")
    assert [s["name"] for s in json.loads(listed.stdout)] == ["API_TOKEN"]
    local.deploy(
        "uses_secret",
        "id: uses_secret\nnamespace: company.team\ntasks:\n"
        "  - id: check\n    type: io.kestra.plugin.scripts.shell.Commands\n"
        "    commands:\n      - test \"{{ secret('API_TOKEN') }}\" = s3cr3t\n",
    )
    ran = local.cli("execution", "run", "company.team", "uses_secret", "--wait")
    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_kv_through_the_command_line_is_the_store_flows_read(local: LocalServer) -> None:
    assert local.cli("kv", "set", "company.team", "threshold", "42").returncode == 0
    assert local.cli("kv", "set", "company.team", "motto", "hello world").returncode == 0
    listed = local.cli("kv", "list", "company.team", "-o", "json")
    assert {e["key"]: e["type"] for e in json.loads(listed.stdout)} == {
        "motto": "STRING",
        "threshold": "NUMBER",
    }
    assert local.cli("kv", "get", "company.team", "threshold").stdout.strip() == "42"
    assert local.cli("kv", "get", "company.team", "motto").stdout.strip() == "hello world"

    local.deploy(
        "reads_kv",
        "id: reads_kv\nnamespace: company.team\ntasks:\n"
        "  - id: get\n    type: io.kestra.plugin.core.kv.Get\n    key: threshold\n",
    )
    ran = local.cli("execution", "run", "company.team", "reads_kv", "--wait", "-o", "json")
    assert ran.returncode == 0, ran.stderr
    [get] = json.loads(ran.stdout)["taskRunList"]
    assert get["outputs"] == {"value": 42}

    assert local.cli("kv", "delete", "company.team", "motto").returncode == 0
    missing = local.cli("kv", "get", "company.team", "motto")
    assert missing.returncode == 1
    assert "not found" in missing.stderr
    bad = httpx.put(f"{local.url}/api/v1/main/namespaces/company.team/kv/bad%20key", content=b"1")
    assert bad.status_code == 422


def test_namespaces_as_a_list_and_a_tree(local: LocalServer) -> None:
    listed = local.cli("namespace", "list", "-o", "json")
    found = {n["namespace"]: n["flows"] for n in json.loads(listed.stdout)}
    assert found["company"] == 0 and found["company.team"] >= 5
    tree = local.cli("namespace", "tree")
    assert tree.returncode == 0
    assert "company" in tree.stdout and "team" in tree.stdout


def test_a_taken_port_is_one_line_naming_it(local: LocalServer) -> None:
    # Another data folder: on the same one the data-folder lock answers first (and says
    # the folder is in use: tests/integration/test_process_tree.py).
    elsewhere = str(local.workdir / "other-data")
    second = local.cli("server", "local", "--data-dir", elsewhere, timeout_s=120)
    assert second.returncode == 1
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, second.stderr
    assert str(local.api_port) in lines[0] and "LANNER_API_PORT" in lines[0]
    assert "Traceback" not in second.stderr

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        free_api = free_ports(1)[0]
        env = {**local.env, "LANNER_API_PORT": str(free_api), "LANNER_LOCAL_KAFKA_PORT": str(taken)}
        other = subprocess.run(
            [*LANNER, "server", "local", "--data-dir", elsewhere],
            cwd=local.workdir,
            env=env,
            text=True,
            capture_output=True,
            timeout=120,
        )
    assert other.returncode == 1
    assert f"port {taken} for the embedded Kafka is already taken" in other.stderr
    assert "LANNER_LOCAL_KAFKA_PORT" in other.stderr
    assert len([x for x in other.stderr.splitlines() if x.strip()]) == 1, other.stderr


def test_the_server_log_has_no_librdkafka_lines_nor_terminal_codes(local: LocalServer) -> None:
    text = local.log.read_text(errors="replace")
    assert "|BGQUEUE|" not in text and "%6|" not in text and "%7|" not in text
    assert "\x1b[" not in text, "colour or cursor codes in a log that is not a terminal"
    assert "Thread keepalive is not responding" not in text


def test_flow_test_on_the_embedded_back_end_says_where_its_time_went(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LANNER_KAFKA_BOOTSTRAP"}
    env["PYTHONPATH"] = str(ROOT)
    started = time.monotonic()
    done = subprocess.run(
        [*LANNER, "flow", "test", "flows/hello_world.yml", "-i", "user=Ada", "-o", "json"],
        cwd=ROOT,
        env=env,
        text=True,
        capture_output=True,
        timeout=300,
    )
    took = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["outputs"] == {"greeting": "HELLO ADA"}
    # The phases, for a user who wonders where the seconds went (a figure, not asserted).
    assert "executor and worker joined" in done.stderr and "execution ran" in done.stderr
    print(f"flow test hello_world: {took:.1f} s wall; {done.stderr.strip().splitlines()[-1]}")
