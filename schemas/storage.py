"""Files in the event language: `kestra://` URIs and the storage port.

Files travel in events as URIs, never as payloads: where a task run's, an execution's or
an input's file lives is part of the language every process speaks, as is what a storage
back end must do (a Protocol; the back ends live in streams/storage, at the edge).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote

if TYPE_CHECKING:
    from pathlib import Path

SCHEME = "kestra://"
_SAFE_PART = re.compile(r"^[A-Za-z0-9._-]+$")


def is_storage_uri(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SCHEME)


def safe_part(value: str) -> str:
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
    ns = "/".join(safe_part(p) for p in namespace.split("."))
    return (
        f"{SCHEME}{safe_part(tenant)}/{ns}/{safe_part(flow_id)}/executions/{safe_part(execution_id)}"
        f"/tasks/{safe_part(task_id)}/{safe_part(task_run_id)}/{attempt}"
    )


def namespace_prefix(tenant: str, namespace: str) -> str:
    ns = "/".join(safe_part(p) for p in namespace.split("."))
    return f"{SCHEME}{safe_part(tenant)}/{ns}/"


def task_file_uri(prefix: str, name: str) -> str:
    """A file of a task run; `name` may contain folders (relative, already checked)."""
    return prefix + "/" + "/".join(safe_part(p) for p in name.split("/") if p)


def execution_prefix(tenant: str, namespace: str, flow_id: str, execution_id: str) -> str:
    """Every file of an execution lives under this (inputs and task outputs alike)."""
    ns = "/".join(safe_part(p) for p in namespace.split("."))
    flow, execution = safe_part(flow_id), safe_part(execution_id)
    return f"{SCHEME}{safe_part(tenant)}/{ns}/{flow}/executions/{execution}/"


def input_file_uri(
    tenant: str, namespace: str, flow_id: str, execution_id: str, input_id: str, filename: str
) -> str:
    """Where a FILE input is stored, as Kestra lays it out (inputs/<id>/<file name>)."""
    base = execution_prefix(tenant, namespace, flow_id, execution_id)
    return f"{base}inputs/{safe_part(input_id)}/{safe_part(filename or 'file')}"


class StorageError(Exception):
    """A file is missing, a URI is malformed, or the back end failed."""


class Storage(Protocol):
    def put_bytes(self, uri: str, data: bytes) -> str:
        """Store `data` at `uri`; returns the URI."""
        ...

    def put_file(self, uri: str, source: Path) -> str:
        """Store the file at `source` (copied, streamed) at `uri`; returns the URI."""
        ...

    def get_bytes(self, uri: str, max_bytes: int | None = None) -> bytes:
        """The content at `uri`; StorageError when missing or bigger than `max_bytes`."""
        ...

    def get_file(self, uri: str, target: Path) -> None:
        """Copy the content at `uri` to `target` (streamed)."""
        ...

    def exists(self, uri: str) -> bool: ...

    def size(self, uri: str) -> int: ...
