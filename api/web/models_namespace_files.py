"""Answers of /api/v1/namespaces/{namespace}/files (Kestra's FileAttributes shape)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.web.models import Answer


class FileAttributes(Answer):
    fileName: str
    type: Literal["File", "Directory"]
    size: int = Field(description="bytes; 0 for a directory")
    lastModifiedTime: int = Field(description="epoch milliseconds")
    creationTime: int = Field(description="epoch milliseconds")
    metadata: dict[str, str] = Field(default_factory=dict)
    version: int | None = Field(default=None, description="a file's current version")


class FileRevision(Answer):
    revision: int
    path: str
    size: int
    sha256: str
    uri: str
    time: str
    actor: str | None
