"""An HTTP client of the Lanner API for the command line (LANNER_URL, default local).

Every failure becomes a ClientError with a sentence a person can act on and the exit
code the command should end with, so commands never print a traceback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from api.cli.client_http import (
    API,
    DEFAULT_URL,
    EXIT_API_ERROR,
    EXIT_UNREACHABLE,
    ApiConnection,
    ClientError,
    SseEvent,
    base_url,
)

__all__ = [
    "API",
    "DEFAULT_URL",
    "EXIT_API_ERROR",
    "EXIT_UNREACHABLE",
    "ClientError",
    "LannerClient",
    "SseEvent",
    "base_url",
]


class LannerClient(ApiConnection):
    """One method per API call the commands make."""

    # --- health -----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", "/health")
        return result

    def wait_healthy(self, timeout_s: float = 60.0, interval_s: float = 0.5) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self.health()
            except ClientError as exc:
                if time.monotonic() >= deadline:
                    raise ClientError(
                        f"the API at {self.url} is not healthy after {timeout_s:.0f} s: {exc}",
                        exit_code=exc.exit_code,
                    ) from None
            time.sleep(interval_s)

    # --- flows ------------------------------------------------------------------------

    def create_flow(self, source: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST",
            "/flows",
            content=source.encode(),
            headers={"content-type": "application/x-yaml"},
        )
        return result

    def update_flow(self, namespace: str, flow_id: str, source: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "PUT",
            f"/flows/{namespace}/{flow_id}",
            content=source.encode(),
            headers={"content-type": "application/x-yaml"},
        )
        return result

    def deploy_flow(self, source: str) -> dict[str, Any]:
        """Create the flow, or update it when it exists; `outcome` says which (or
        `unchanged`)."""
        try:
            return self.create_flow(source)
        except ClientError as exc:
            if exc.status != 409:
                raise
        import yaml  # only to learn the path of the existing flow

        data = yaml.safe_load(source)
        return self.update_flow(str(data["namespace"]), str(data["id"]), source)

    def validate_flow(self, source: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST",
            "/flows/validate",
            content=source.encode(),
            headers={"content-type": "application/x-yaml"},
        )
        return result

    def get_flow(self, namespace: str, flow_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/flows/{namespace}/{flow_id}")
        return result

    def search_flows(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Every (non-deleted) flow of a namespace and its children, all pages."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            params: dict[str, Any] = {"size": 1000, "page": page}
            if namespace:
                params["namespace"] = namespace
            body: dict[str, Any] = self._json("GET", "/flows/search", params=params)
            found += body["results"]
            if not body["results"] or len(found) >= int(body["total"]):
                return found
            page += 1

    def delete_flow(self, namespace: str, flow_id: str) -> None:
        self._request("DELETE", f"/flows/{namespace}/{flow_id}")

    # --- secrets ----------------------------------------------------------------------

    def set_secret(self, namespace: str, name: str, value: str) -> None:
        self._request("PUT", f"/namespaces/{namespace}/secrets/{name}", json={"value": value})

    def list_secrets(self, namespace: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json("GET", f"/namespaces/{namespace}/secrets")
        return result

    def delete_secret(self, namespace: str, name: str) -> None:
        self._request("DELETE", f"/namespaces/{namespace}/secrets/{name}")

    # --- key-value store -------------------------------------------------------------

    def list_kv(self, namespace: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json("GET", f"/namespaces/{namespace}/kv")
        return result

    def get_kv(self, namespace: str, key: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/namespaces/{namespace}/kv/{key}")
        return result

    def set_kv(self, namespace: str, key: str, value: Any, ttl: str | None = None) -> None:
        params = {"ttl": ttl} if ttl else {}
        self._request(
            "PUT",
            f"/namespaces/{namespace}/kv/{key}",
            params=params,
            content=json.dumps(value).encode(),
            headers={"content-type": "application/json"},
        )

    def delete_kv(self, namespace: str, key: str) -> None:
        self._request("DELETE", f"/namespaces/{namespace}/kv/{key}")

    # --- namespace pluginDefaults ------------------------------------------------------

    def get_namespace_defaults(self, namespace: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("GET", f"/namespaces/{namespace}/plugindefaults")
        return result

    def set_namespace_defaults(self, namespace: str, source: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "PUT",
            f"/namespaces/{namespace}/plugindefaults",
            content=source.encode(),
            headers={"content-type": "application/x-yaml"},
        )
        return result

    # --- namespace files ---------------------------------------------------------------

    def list_namespace_files(self, namespace: str, path: str = "/") -> list[dict[str, Any]]:
        params = {"path": path, "recursive": "true"}
        result: list[dict[str, Any]] = self._json(
            "GET", f"/namespaces/{namespace}/files/directory", params=params
        )
        return result

    def get_namespace_file(self, namespace: str, path: str, revision: int | None = None) -> bytes:
        params: dict[str, Any] = {"path": path}
        if revision is not None:
            params["revision"] = revision
        return self._request("GET", f"/namespaces/{namespace}/files", params=params).content

    def upload_namespace_file(
        self, namespace: str, path: str, source: Path
    ) -> list[dict[str, Any]]:
        with source.open("rb") as handle:
            result: list[dict[str, Any]] = self._json(
                "POST",
                f"/namespaces/{namespace}/files",
                params={"path": path},
                files={"fileContent": (source.name, handle)},
            )
        return result

    def delete_namespace_file(self, namespace: str, path: str) -> None:
        self._request("DELETE", f"/namespaces/{namespace}/files", params={"path": path})

    # --- executions -------------------------------------------------------------------

    def create_execution(
        self,
        namespace: str,
        flow_id: str,
        inputs: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        # A person runs this, then lists or follows: read-your-writes is worth the wait.
        params: dict[str, Any] = {
            "labels": [f"{k}:{v}" for k, v in (labels or {}).items()],
            "visible": "true",
        }
        result: dict[str, Any] = self._json(
            "POST", _create_path(namespace, flow_id), json=dict(inputs or {}), params=params
        )
        return result

    def create_execution_with_files(
        self,
        namespace: str,
        flow_id: str,
        inputs: Mapping[str, str],
        files: Mapping[str, Path],
        labels: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A multipart form: every input as a field, every FILE input as an upload."""
        params = {"labels": [f"{k}:{v}" for k, v in (labels or {}).items()]}
        handles = {name: path.open("rb") for name, path in files.items()}
        try:
            uploads = {name: (files[name].name, handle) for name, handle in handles.items()}
            result: dict[str, Any] = self._json(
                "POST",
                _create_path(namespace, flow_id),
                data=dict(inputs),
                files=uploads,
                params=params,
            )
        finally:
            for handle in handles.values():
                handle.close()
        return result

    def get_execution(self, execution_id: str, *, as_of: str | None = None) -> dict[str, Any]:
        params = {"asOf": as_of} if as_of is not None else {}
        result: dict[str, Any] = self._json("GET", f"/executions/{execution_id}", params=params)
        return result

    def search_executions(
        self,
        *,
        namespace: str | None = None,
        flow_id: str | None = None,
        states: list[str] | None = None,
        size: int = 25,
        page: int = 1,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"size": size, "page": page}
        if namespace:
            params["namespace"] = namespace
        if flow_id:
            params["flowId"] = flow_id
        if states:
            params["state"] = states
        result: dict[str, Any] = self._json("GET", "/executions/search", params=params)
        return result

    def execution_events(
        self, execution_id: str, types: list[str] | None = None
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json(
            "GET", f"/executions/{execution_id}/events", params={"type": types or []}
        )
        return result

    def flow_revisions(self, namespace: str, flow_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json("GET", f"/flows/{namespace}/{flow_id}/revisions")
        return result

    def audit(self, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "GET", "/audit", params={k: v for k, v in params.items() if v is not None}
        )
        return result

    def logs(
        self, execution_id: str, *, task_id: str | None = None, min_level: str | None = None
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("taskId", task_id), ("minLevel", min_level)) if v}
        result: list[dict[str, Any]] = self._json("GET", f"/logs/{execution_id}", params=params)
        return result

    def kill(self, execution_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json("POST", f"/executions/{execution_id}/kill")
        return result

    def control(self, execution_id: str, action: str, **body: Any) -> dict[str, Any]:
        """pause, resume (inputs as body), restart, replay (taskRunId, revision), state."""
        params = {k: v for k, v in body.items() if v is not None} if action == "replay" else None
        payload = body if action in ("resume", "state") else None
        result: dict[str, Any] = self._json(
            "POST", f"/executions/{execution_id}/{action}", params=params, json=payload
        )
        return result

    def search_triggers(
        self,
        *,
        namespace: str | None = None,
        flow_id: str | None = None,
        q: str | None = None,
        size: int = 25,
        page: int = 1,
    ) -> dict[str, Any]:
        params = {k: v for k, v in (("namespace", namespace), ("flowId", flow_id), ("q", q)) if v}
        result: dict[str, Any] = self._json(
            "GET", "/triggers/search", params={**params, "size": size, "page": page}
        )
        return result

    def update_trigger(
        self, namespace: str, flow_id: str, trigger_id: str, **changes: Any
    ) -> dict[str, Any]:
        """Kestra's PUT /triggers: `disabled=True|False`, or `backfill={start, end, ...}`."""
        body = {"namespace": namespace, "flowId": flow_id, "triggerId": trigger_id, **changes}
        result: dict[str, Any] = self._json("PUT", "/triggers", json=body)
        return result

    def trigger_backfill(
        self, namespace: str, flow_id: str, trigger_id: str, action: str
    ) -> dict[str, Any]:
        """pause, unpause or delete the trigger's running backfill."""
        body = {"namespace": namespace, "flowId": flow_id, "triggerId": trigger_id}
        method = "POST" if action == "delete" else "PUT"
        result: dict[str, Any] = self._json(method, f"/triggers/backfill/{action}", json=body)
        return result

    def unlock_trigger(self, namespace: str, flow_id: str, trigger_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            "POST", f"/triggers/{namespace}/{flow_id}/{trigger_id}/unlock"
        )
        return result


# POST /executions/{id}/<action> routes: a flow named like one of them is created through
# Kestra's other path, /executions/trigger/{namespace}/{flow}.
_CONTROL_ACTIONS = frozenset({"kill", "pause", "restart", "replay", "resume", "state"})


def _create_path(namespace: str, flow_id: str) -> str:
    if flow_id in _CONTROL_ACTIONS:
        return f"/executions/trigger/{namespace}/{flow_id}"
    return f"/executions/{namespace}/{flow_id}"
