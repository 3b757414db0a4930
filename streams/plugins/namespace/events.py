"""Facts of a namespace's files, on the `namespace-file-events` topic.

Keyed by tenant/namespace/path, so every change of one file is on one partition, in order:
a file's versions are its NamespaceFileWritten events in log order. The content is not on
the log: it lives in internal storage at a `kestra://` URI derived from its SHA-256, so a
write delivered twice stores the same bytes at the same place, and an older version stays
readable after a newer one (or a delete) is written.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.storage import namespace_prefix


class _FileEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    namespace: str
    # Normalised, absolute inside the namespace: "/scripts/main.py" (streams/plugins/
    # namespace/paths.py); never "..", never empty.
    path: str
    time: dt.datetime
    # Who wrote it: the API's caller, or the execution and task run of a task.
    actor: str | None = None
    execution_id: str | None = None
    task_run_id: str | None = None

    @property
    def record_key(self) -> str:
        return f"{self.tenant}/{self.namespace}{self.path}"


class NamespaceFileWritten(_FileEvent):
    type: Literal["NamespaceFileWritten"] = "NamespaceFileWritten"
    uri: str
    size: int
    sha256: str


class NamespaceFileDeleted(_FileEvent):
    type: Literal["NamespaceFileDeleted"] = "NamespaceFileDeleted"


NamespaceFileEvent = Annotated[
    NamespaceFileWritten | NamespaceFileDeleted, Field(discriminator="type")
]
NAMESPACE_FILE_EVENT_ADAPTER: TypeAdapter[NamespaceFileWritten | NamespaceFileDeleted] = (
    TypeAdapter(NamespaceFileEvent)
)


def content_uri(tenant: str, namespace: str, sha256: str) -> str:
    """Where a namespace file's content lives: by digest, so equal content is stored once
    and a redelivered write lands on the same object."""
    return f"{namespace_prefix(tenant, namespace)}_namespace_files/{sha256}"
