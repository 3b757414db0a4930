"""Deploy a folder of flows through the API once it is up (used by `lanner server local`)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.text import Text

from api.cli.client import ClientError, LannerClient
from schemas.settings import LannerSettings

FLOW_SUFFIXES = (".yml", ".yaml")


def api_url(settings: LannerSettings) -> str:
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    return f"http://{host}:{settings.api_port}"


def deploy_directory(client: LannerClient, flows_dir: Path, console: Console) -> int:
    """POST (or PUT) every flow file; print one line per file; return how many failed."""
    failed = 0
    for path in sorted(p for p in flows_dir.iterdir()
                       if p.suffix in FLOW_SUFFIXES and p.is_file()):
        try:
            result = client.deploy_flow(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            failed += 1
            console.print(Text.assemble(("✗ ", "red"), str(path), f": cannot read ({exc})"))
            continue
        except ClientError as exc:
            failed += 1
            console.print(Text.assemble(("✗ ", "red"), str(path), f": {exc}"), soft_wrap=True)
            body = exc.body if isinstance(exc.body, dict) else {}
            for problem in body.get("problems", []):
                line = problem.get("line") or "-"
                console.print(Text(f"    line {line} {problem.get('path') or ''}: "
                                   f"{problem.get('message')}"), soft_wrap=True)
            continue
        console.print(Text.assemble(
            ("✓ ", "green"), str(path),
            f" ({result.get('namespace')}.{result.get('id')} revision {result.get('revision')}, "
            f"{result.get('outcome', 'deployed')})"), soft_wrap=True)
    return failed


def deploy_directory_when_ready(settings: LannerSettings, flows_dir: Path, console: Console,
                                *, timeout_s: float = 120.0) -> int:
    with LannerClient(api_url(settings)) as client:
        try:
            client.wait_healthy(timeout_s)
        except ClientError as exc:
            console.print(Text(f"flows in {flows_dir} not deployed: {exc}", style="red"))
            return -1
        return deploy_directory(client, flows_dir, console)
