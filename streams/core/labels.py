"""Kestra's system labels: `system.correlationId` names the execution that started a
chain (itself for a root; a subflow's parent's, always inherited), so every execution a
request caused can be found by one label."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SYSTEM_LABEL_PREFIX = "system."
CORRELATION_ID = "system.correlationId"


def with_correlation(labels: Mapping[str, str], execution_id: str) -> dict[str, str]:
    """The labels of a new execution: its correlation id kept when given, else its own id."""
    return {**labels, CORRELATION_ID: labels.get(CORRELATION_ID, execution_id)}


def labels_view(labels: Mapping[str, str]) -> dict[str, Any]:
    """`labels` in expressions: system labels under `labels.system` (Kestra's shape)."""
    view: dict[str, Any] = {}
    system: dict[str, str] = {}
    for key, value in labels.items():
        if key.startswith(SYSTEM_LABEL_PREFIX):
            system[key[len(SYSTEM_LABEL_PREFIX) :]] = value
        else:
            view[key] = value
    if system:
        view["system"] = system
    return view
