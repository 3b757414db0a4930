"""Kestra's own test flows, run on Lanner, compared with what Kestra's Java tests assert.

    PYTHONPATH=. python bench/kestra_conformance.py /path/to/kestra [--only NAME ...]
        [--server URL] [--cases bench/kestra_cases.jsonl] [--json results.json]

The path is a checkout (or `git archive`) of kestra-io/kestra: fetch it, never copy its
files into this repository. Every flow of `core/src/test/resources/flows/valids` is
deployed (so subflows and flow triggers find their companions), then each case of
bench/kestra_cases.jsonl runs: its KV entries are set, an execution is created with the
Java test's inputs through the REST API, the test's steps are played (resume a PAUSED
execution, restart a FAILED one, kill), and the ended execution is compared with the
Java test's assertions (bench/kestra_cases.py). Prints the rate and, for every miss, why.

Without --server it starts `lanner server local` (embedded back end, every role) in a
temporary folder, on free ports, and stops it at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import Progress

from api.cli.client import ClientError, LannerClient
from bench.kestra_cases import Case, Verdict, compare, load_cases
from tests.harness.common import free_ports

ROOT = Path(__file__).resolve().parents[1]
VALIDS = Path("core/src/test/resources/flows/valids")
TERMINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED"}
CASE_TIMEOUT_S = 90.0


@contextmanager
def local_server(console: Console) -> Iterator[str]:
    """`lanner server local` in a temporary folder; yields its API URL."""
    with tempfile.TemporaryDirectory(prefix="lanner-kestra-") as tmp:
        api, kafka, es = free_ports(3)
        env = {
            **os.environ,
            "LANNER_API_PORT": str(api),
            "LANNER_LOCAL_KAFKA_PORT": str(kafka),
            "LANNER_LOCAL_ELASTICSEARCH_PORT": str(es),
            "LANNER_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        for name in ("LANNER_KAFKA_BOOTSTRAP", "LANNER_ELASTICSEARCH_URL", "LANNER_TOKEN"):
            env.pop(name, None)
        (Path(tmp) / "flows").mkdir()
        log = Path(tmp) / "server.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "api.cli.main", "server", "local"],
                cwd=tmp,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            deadline = time.monotonic() + 240
            with console.status("starting lanner server local ..."):
                while "Lanner is up" not in log.read_text(errors="replace"):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("server local did not start:\n" + log.read_text()[-3000:])
                    time.sleep(0.5)
            yield f"http://127.0.0.1:{api}"
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def deploy_all(client: LannerClient, valids: Path) -> dict[str, str]:
    """Deploys every flow file; returns file name -> why it was refused, for the others."""
    refused: dict[str, str] = {}
    for path in sorted(valids.iterdir()):
        if path.suffix not in (".yaml", ".yml"):
            continue
        try:
            client.deploy_flow(path.read_text())
        except ClientError as exc:
            refused[path.name] = " ".join(str(exc).split())[:400]
    return refused


def _flow_key(valids: Path, flow_file: str) -> tuple[str, str]:
    data = yaml.safe_load((valids / flow_file).read_text())
    return str(data["namespace"]), str(data["id"])


def _wait(
    client: LannerClient, execution_id: str, until: set[str], after_seq: int = -1
) -> Mapping[str, Any]:
    """The execution once its view is in one of `until`, past event `after_seq` (so a
    state read before a restart or resume took effect is not taken for the end)."""
    deadline = time.monotonic() + CASE_TIMEOUT_S
    while True:
        try:
            execution = client.get_execution(execution_id)
        except ClientError as exc:
            if exc.status != 404:
                raise
            execution = {}
        state = execution.get("state", {}).get("current")
        if state in until and int(execution.get("seq", 0)) > after_seq:
            return execution
        if time.monotonic() > deadline:
            raise TimeoutError(f"still {state} after {CASE_TIMEOUT_S:.0f} s")
        time.sleep(0.2)


def run_case(client: LannerClient, valids: Path, case: Case, tmp: Path) -> Verdict:
    namespace, flow_id = _flow_key(valids, case.flow)
    for where, value in case.kv.items():
        kv_namespace, _, key = where.partition("/")
        if value is None:  # the Java test wants the key absent
            with suppress(ClientError):
                client.delete_kv(kv_namespace, key)
        else:
            client.set_kv(kv_namespace, key, value)
    for where, secret in case.secrets.items():
        secret_namespace, _, name = where.partition("/")
        client.set_secret(secret_namespace, name, secret)
    if case.refused is not None:
        return _check_refusal(client, namespace, flow_id, case, tmp)
    try:
        if case.alongside:
            first = str(_create(client, namespace, flow_id, case, tmp)["id"])
            _wait(client, first, {"RUNNING", "PAUSED"} | TERMINAL)
        if case.via is None:
            execution_id = str(_create(client, namespace, flow_id, case, tmp)["id"])
        else:
            execution_id = _started_via(client, valids, case, namespace, flow_id, tmp)
        seen = -1  # the view's `seq` when the last step acted: later waits look past it
        for step in case.steps:
            # RUNNING is where a new execution starts: act at once (the views lag).
            reached = step.when
            if step.when != "RUNNING":
                at = _wait(client, execution_id, {step.when} | TERMINAL, after_seq=seen)
                reached, seen = at["state"]["current"], int(at.get("seq", seen))
            if reached != step.when:
                return Verdict(case, error=f"ended {reached} before it could be {step.do}ed")
            if step.do == "kill":
                client.kill(execution_id)
            elif step.do == "resume":
                client.control(execution_id, "resume", **step.inputs)
            else:
                client.control(execution_id, step.do)
        until = TERMINAL | ({case.state} if case.state else set())
        final = _wait(client, execution_id, until, after_seq=seen)
    except (ClientError, TimeoutError) as exc:
        return Verdict(case, error=f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    return Verdict(case, misses=compare(case, final))


def _check_refusal(
    client: LannerClient, namespace: str, flow_id: str, case: Case, tmp: Path
) -> Verdict:
    """The creation must be refused (422), naming the input the Java test expects."""
    try:
        created = _create(client, namespace, flow_id, case, tmp)
    except ClientError as exc:
        if exc.status == 422 and f"'{case.refused}'" in str(exc):
            return Verdict(case)
        return Verdict(case, misses=[f"refused, but not for input {case.refused}: {exc}"])
    return Verdict(case, misses=[f"created {created.get('id')} (Kestra refuses {case.refused})"])


def _started_via(
    client: LannerClient, valids: Path, case: Case, namespace: str, flow_id: str, tmp: Path
) -> str:
    """Runs the `via` flow, then finds the execution of the case's flow it caused."""
    assert case.via is not None
    before = _execution_ids(client, namespace, flow_id)
    via_namespace, via_flow = _flow_key(valids, case.via)
    upstream = str(_create(client, via_namespace, via_flow, case, tmp)["id"])
    _wait(client, upstream, TERMINAL)
    deadline = time.monotonic() + CASE_TIMEOUT_S
    while time.monotonic() < deadline:
        new = _execution_ids(client, namespace, flow_id) - before
        if new:
            return sorted(new)[0]
        time.sleep(0.5)
    raise TimeoutError(f"no execution of {namespace}.{flow_id} after {case.via} ran")


def _execution_ids(client: LannerClient, namespace: str, flow_id: str) -> set[str]:
    found = client.search_executions(namespace=namespace, flow_id=flow_id, size=1000)
    return {str(e["id"]) for e in found["results"]}


def _create(
    client: LannerClient, namespace: str, flow_id: str, case: Case, tmp: Path
) -> Mapping[str, Any]:
    files = {
        k: v["__file__"] for k, v in case.inputs.items() if isinstance(v, dict) and "__file__" in v
    }
    if not files:
        return client.create_execution(namespace, flow_id, case.inputs, case.labels)
    paths = {}
    for name, content in files.items():
        paths[name] = tmp / f"{flow_id}-{name}.txt"
        paths[name].write_text(str(content))
    plain = {
        k: v if isinstance(v, str) else json.dumps(v)
        for k, v in case.inputs.items()
        if k not in files
    }
    return client.create_execution_with_files(namespace, flow_id, plain, paths, case.labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kestra", type=Path, help="a kestra-io/kestra checkout")
    parser.add_argument("--cases", type=Path, default=ROOT / "bench" / "kestra_cases.jsonl")
    parser.add_argument("--server", help="a running Lanner's URL (default: start one)")
    parser.add_argument("--only", nargs="*", help="flow file names to run")
    parser.add_argument("--json", type=Path, help="write every verdict here")
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    console = Console()
    valids = args.kestra / VALIDS
    cases = [c for c in load_cases(args.cases) if not args.only or c.flow in args.only]
    with local_server(console) if args.server is None else _given(args.server) as url:
        client = LannerClient(url, timeout_s=60)
        client.wait_healthy(120)
        with console.status("deploying Kestra's test flows ..."):
            refused = deploy_all(client, valids)
        verdicts = _run_all(client, valids, cases, refused, args.parallel, console)
    _report(verdicts, cases, console)
    if args.json:
        args.json.write_text(
            json.dumps(
                [{"case": v.case.name, "misses": v.misses, "error": v.error} for v in verdicts],
                indent=1,
            )
        )


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


def _run_all(
    client: LannerClient,
    valids: Path,
    cases: list[Case],
    refused: Mapping[str, str],
    parallel: int,
    console: Console,
) -> list[Verdict]:
    runnable = [c for c in cases if c.skip is None and c.differs is None]
    verdicts = [
        Verdict(c, error=f"the flow does not deploy: {refused[c.flow]}")
        for c in runnable
        if c.flow in refused
    ]
    todo = [c for c in runnable if c.flow not in refused]
    with (
        tempfile.TemporaryDirectory() as tmp,
        Progress(console=console) as progress,
        ThreadPoolExecutor(parallel) as pool,
    ):
        bar = progress.add_task("cases", total=len(todo))

        def run_in_order(group: list[Case]) -> list[Verdict]:
            # A flow's cases run one after another: some build on the one before (state,
            # KV, caches), as in the Java test.
            results = []
            for case in group:
                results.append(run_case(client, valids, case, Path(tmp)))
                progress.advance(bar)
            return results

        groups: dict[str, list[Case]] = {}
        for case in todo:
            groups.setdefault(case.flow, []).append(case)
        for future in [pool.submit(run_in_order, g) for g in groups.values()]:
            verdicts.extend(future.result())
    return verdicts


def _report(verdicts: list[Verdict], cases: list[Case], console: Console) -> None:
    passed = [v for v in verdicts if v.passed]
    skipped = [c for c in cases if c.skip is not None]
    differs = [c for c in cases if c.skip is None and c.differs is not None]
    for case in sorted(skipped, key=lambda c: c.flow):
        console.print(f"[yellow]SKIP[/yellow] {case.name}: {case.skip}", soft_wrap=True)
    for case in sorted(differs, key=lambda c: c.flow):
        console.print(f"[cyan]DIFFERS[/cyan] {case.name}: {case.differs}", soft_wrap=True)
    for verdict in sorted(verdicts, key=lambda v: v.case.flow):
        if verdict.passed:
            continue
        console.print(f"[red]MISS[/red] {verdict.case.name}")
        for why in [verdict.error] if verdict.error else verdict.misses:
            console.print(f"    {why}", soft_wrap=True)
        for check in verdict.case.checks:
            console.print(f"    [dim]also asserted: {check}[/dim]", soft_wrap=True)
    rate = 100.0 * len(passed) / len(verdicts) if verdicts else 0.0
    console.print(
        f"\n[bold]{len(passed)} of {len(verdicts)} cases give Kestra's result ({rate:.1f}%)"
        f"[/bold]; {len(differs)} where Lanner deliberately differs, {len(skipped)} skipped"
    )


if __name__ == "__main__":
    main()
