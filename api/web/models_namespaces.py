"""Answers of /api/v1/namespaces/{namespace}/kv and .../secrets."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from api.web.models import Answer


class KvEntry(Answer):
    key: str
    namespace: str
    type: Literal["STRING", "NUMBER", "BOOLEAN", "JSON"] = Field(
        description="Kestra's KV type of the value"
    )
    updateDate: str
    expirationDate: str | None


class KvValue(KvEntry):
    value: Any = Field(description="The value, as JSON")


class SecretName(Answer):
    """A secret's name and who set it when: never its value."""

    name: str
    namespace: str
    updated: str
    actor: str
