"""Deploy a folder of flows through the API once it is up (used by `lanner server local`)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.text import Text

from api.cli.client import EXIT_UNREACHABLE, ClientError, LannerClient
from api.cli.validation_output import FileResult, flow_files
from schemas.settings import LannerSettings


def api_url(settings: LannerSettings) -> str:
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    return f"http://{host}:{settings.api_port}"


def deploy_paths(client: LannerClient, paths: list[Path], console: Console) -> int:
    """POST (or PUT) every flow file; print one line per file; return how many failed.

    A directory stands for its *.yml/*.yaml files. An unreachable API stops at once
    (ClientError with EXIT_UNREACHABLE): every other file would fail the same way.
    """
    failed = 0
    for item in flow_files(paths):
        if isinstance(item, FileResult):
            failed += 1
            console.print(
                Text.assemble(("✗ ", "red"), str(item.file), ": ", item.problems[0].message),
                soft_wrap=True,
            )
            continue
        try:
            result = client.deploy_flow(item.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            failed += 1
            console.print(Text.assemble(("✗ ", "red"), str(item), f": cannot read ({exc})"))
            continue
        except ClientError as exc:
            if exc.exit_code == EXIT_UNREACHABLE:
                raise
            failed += 1
            console.print(Text.assemble(("✗ ", "red"), str(item), f": {exc}"), soft_wrap=True)
            body = exc.body if isinstance(exc.body, dict) else {}
            for problem in body.get("problems", []):
                line = problem.get("line") or "-"
                console.print(
                    Text(f"    line {line} {problem.get('path') or ''}: {problem.get('message')}"),
                    soft_wrap=True,
                )
            continue
        console.print(
            Text.assemble(
                ("✓ ", "green"),
                str(item),
                f" ({result.get('namespace')}.{result.get('id')} "
                f"revision {result.get('revision')}, {result.get('outcome', 'deployed')})",
            ),
            soft_wrap=True,
        )
    return failed


def deploy_directory(client: LannerClient, flows_dir: Path, console: Console) -> int:
    return deploy_paths(client, [flows_dir], console)


def deploy_files(paths: list[Path], console: Console) -> int:
    """`lanner flow deploy`: the exit code (0 all deployed, 1 some refused, 3 no API)."""
    with LannerClient() as client:
        try:
            failed = deploy_paths(client, paths, console)
        except ClientError as exc:
            console.print(Text(f"error: {exc}", style="red"))
            return exc.exit_code
    return 1 if failed else 0


def deploy_directory_when_ready(
    settings: LannerSettings, flows_dir: Path, console: Console, *, timeout_s: float = 120.0
) -> int:
    with LannerClient(api_url(settings)) as client:
        try:
            client.wait_healthy(timeout_s)
        except ClientError as exc:
            console.print(Text(f"flows in {flows_dir} not deployed: {exc}", style="red"))
            return -1
        try:
            return deploy_directory(client, flows_dir, console)
        except ClientError as exc:
            console.print(Text(f"flows in {flows_dir} not deployed: {exc}", style="red"))
            return -1
