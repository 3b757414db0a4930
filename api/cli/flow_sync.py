"""`lanner flow export|sync`: a namespace's flows as a folder of `<id>.yml` files.

Only flows of exactly that namespace take part (children namespaces are their own
folders), so `export NS DIR` then `sync NS DIR` round-trips: the same files, the same
flows, every one unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from api.cli.client import ClientError, LannerClient

Action = Literal["create", "update", "unchanged", "delete"]
_STYLE = {"create": "green", "update": "yellow", "unchanged": "dim", "delete": "red"}


def export_flows(flows: list[dict[str, Any]], namespace: str, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for flow in sorted(flows, key=lambda f: str(f["id"])):
        if flow.get("namespace") != namespace:
            continue
        path = directory / f"{flow['id']}.yml"
        path.write_text(str(flow["source"]), encoding="utf-8")
        written.append(path)
    return written


@dataclass(frozen=True)
class LocalFlow:
    flow_id: str
    path: Path
    source: str


def local_flows(directory: Path, namespace: str) -> tuple[dict[str, LocalFlow], list[str]]:
    """The folder's flows by id, and every reason it cannot be synced (all at once)."""
    found: dict[str, LocalFlow] = {}
    problems: list[str] = []
    if not directory.is_dir():
        return found, [f"{directory} is not a directory"]
    for path in sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")]):
        try:
            source = path.read_text(encoding="utf-8")
            data = yaml.safe_load(source)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            problems.append(f"{path}: cannot read ({exc})")
            continue
        if not isinstance(data, dict) or not data.get("id") or not data.get("namespace"):
            problems.append(f"{path}: not a flow (no id or namespace)")
            continue
        if data["namespace"] != namespace:
            problems.append(f"{path}: namespace {data['namespace']} is not {namespace}")
            continue
        flow_id = str(data["id"])
        if flow_id in found:
            problems.append(f"{path}: flow id {flow_id} is also in {found[flow_id].path}")
            continue
        found[flow_id] = LocalFlow(flow_id, path, source)
    return found, problems


@dataclass(frozen=True)
class Step:
    action: Action
    flow_id: str
    source: str | None
    path: Path | None


def plan_sync(
    local: dict[str, LocalFlow], remote: list[dict[str, Any]], namespace: str, *, delete: bool
) -> list[Step]:
    existing = {
        str(f["id"]): str(f.get("source") or "") for f in remote if f.get("namespace") == namespace
    }
    steps: list[Step] = []
    for flow_id, flow in sorted(local.items()):
        if flow_id not in existing:
            action: Action = "create"
        elif existing[flow_id] == flow.source:
            action = "unchanged"
        else:
            action = "update"
        steps.append(Step(action, flow_id, flow.source, flow.path))
    if delete:
        steps += [
            Step("delete", flow_id, None, None) for flow_id in sorted(set(existing) - set(local))
        ]
    return steps


def print_plan(plan: list[Step], console: Console) -> None:
    table = Table(title="sync plan", show_edge=False)
    for column in ("ACTION", "FLOW", "FILE"):
        table.add_column(column)
    for step in plan:
        table.add_row(
            Text(step.action, style=_STYLE[step.action]), step.flow_id, str(step.path or "-")
        )
    console.print(table)
    counts = {a: sum(1 for s in plan if s.action == a) for a in _STYLE}
    console.print(", ".join(f"{n} {a}" for a, n in counts.items()), style="dim")


def apply_plan(client: LannerClient, namespace: str, plan: list[Step], console: Console) -> int:
    """Apply every step; the number that failed (an unreachable API stops at once)."""
    failed = 0
    for step in plan:
        if step.action == "unchanged":
            continue
        try:
            if step.action == "delete":
                client.delete_flow(namespace, step.flow_id)
            elif step.source is not None:
                client.deploy_flow(step.source)
        except ClientError as exc:
            if exc.status is None:
                raise
            failed += 1
            console.print(
                Text(f"✗ {step.action} {step.flow_id}: {exc}", style="red"), soft_wrap=True
            )
            continue
        console.print(Text.assemble((f"✓ {step.action} ", _STYLE[step.action]), step.flow_id))
    return failed
