"""`kestra://` URIs: tenant, namespace, flow, execution, task run, attempt, file name."""

from __future__ import annotations

import re
from urllib.parse import quote

SCHEME = "kestra://"
_SAFE_PART = re.compile(r"^[A-Za-z0-9._-]+$")


def is_storage_uri(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SCHEME)


def _part(value: str) -> str:
    # Ids are already safe; anything else is percent-encoded rather than trusted.
    return value if _SAFE_PART.match(value) and value not in (".", "..") else quote(value, "")


def task_prefix(
    tenant: str,
    namespace: str,
    flow_id: str,
    execution_id: str,
    task_id: str,
    task_run_id: str,
    attempt: int,
) -> str:
    """As Kestra lays files out: by namespace (dots become folders), flow and execution."""
    ns = "/".join(_part(p) for p in namespace.split("."))
    return (
        f"{SCHEME}{_part(tenant)}/{ns}/{_part(flow_id)}/executions/{_part(execution_id)}"
        f"/tasks/{_part(task_id)}/{_part(task_run_id)}/{attempt}"
    )


def namespace_prefix(tenant: str, namespace: str) -> str:
    ns = "/".join(_part(p) for p in namespace.split("."))
    return f"{SCHEME}{_part(tenant)}/{ns}/"


def task_file_uri(prefix: str, name: str) -> str:
    """A file of a task run; `name` may contain folders (relative, already checked)."""
    return prefix + "/" + "/".join(_part(p) for p in name.split("/") if p)


def execution_prefix(tenant: str, namespace: str, flow_id: str, execution_id: str) -> str:
    """Every file of an execution lives under this (inputs and task outputs alike)."""
    ns = "/".join(_part(p) for p in namespace.split("."))
    return f"{SCHEME}{_part(tenant)}/{ns}/{_part(flow_id)}/executions/{_part(execution_id)}/"


def input_file_uri(
    tenant: str, namespace: str, flow_id: str, execution_id: str, input_id: str, filename: str
) -> str:
    """Where a FILE input is stored, as Kestra lays it out (inputs/<id>/<file name>)."""
    base = execution_prefix(tenant, namespace, flow_id, execution_id)
    return f"{base}inputs/{_part(input_id)}/{_part(filename or 'file')}"
