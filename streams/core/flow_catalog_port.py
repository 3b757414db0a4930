"""The catalog port: other flows, by revision, for subflows (data passed into decide)."""

from __future__ import annotations

from typing import Protocol

from streams.core.validation import ValidatedFlow


class FlowCatalog(Protocol):
    """Other flows, by revision (None = latest), for subflows."""

    def get(
        self, tenant: str, namespace: str, flow_id: str, revision: int | None = None
    ) -> ValidatedFlow | None: ...


class EmptyCatalog:
    def get(
        self, tenant: str, namespace: str, flow_id: str, revision: int | None = None
    ) -> ValidatedFlow | None:
        return None
