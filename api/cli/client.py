"""An HTTP client of the Lanner API for the command line (LANNER_URL, default local).

Every failure becomes a ClientError with a sentence a person can act on and the exit
code the command should end with, so commands never print a traceback.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"
API = "/api/v1"

EXIT_API_ERROR = 1  # the API answered no (404, 409, 422 ...)
EXIT_UNREACHABLE = 3  # nothing answered at LANNER_URL


class ClientError(Exception):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: Any = None,
        exit_code: int = EXIT_API_ERROR,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.exit_code = exit_code


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: Any


def base_url(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return (env.get("LANNER_URL") or DEFAULT_URL).rstrip("/")


class LannerClient:
    def __init__(
        self,
        url: str | None = None,
        *,
        timeout_s: float = 30.0,
        tenant: str | None = None,
        token: str | None = None,
    ) -> None:
        self.url = (url or base_url()).rstrip("/")
        # Kestra's path shape, always with the tenant (LANNER_TENANT_ID / --tenant), and
        # the bearer token of LANNER_TOKEN when there is one.
        self.tenant = tenant or os.environ.get("LANNER_TENANT_ID") or "main"
        secret = token if token is not None else os.environ.get("LANNER_TOKEN", "")
        headers = {"authorization": f"Bearer {secret}"} if secret else {}
        self._http = httpx.Client(
            base_url=f"{self.url}{API}/{self.tenant}", timeout=timeout_s, headers=headers
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LannerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing ---------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ClientError(
                f"cannot reach the Lanner API at {self.url} ({exc}); is "
                "`lanner server local` running, or LANNER_URL set?",
                exit_code=EXIT_UNREACHABLE,
            ) from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        return response.json() if response.content else None

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

    # --- executions -------------------------------------------------------------------

    def create_execution(
        self,
        namespace: str,
        flow_id: str,
        inputs: Mapping[str, Any] | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        params = {"labels": [f"{k}:{v}" for k, v in (labels or {}).items()]}
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
        """resume (inputs as body), restart, replay (taskRunId, revision), state."""
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

    def follow(self, execution_id: str, *, logs: bool = False) -> Iterator[SseEvent]:
        """Server-sent events of an execution (or of its logs) until it ends."""
        path = f"/logs/{execution_id}/follow" if logs else f"/executions/{execution_id}/follow"
        try:
            with self._http.stream("GET", path, timeout=None) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                event, data = "message", []
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                    elif line.startswith("data:"):
                        data.append(line.split(":", 1)[1].strip())
                    elif not line and data:
                        yield SseEvent(event, _parse("\n".join(data)))
                        event, data = "message", []
        except httpx.TransportError as exc:
            raise ClientError(
                f"lost the stream from {self.url}: {exc}", exit_code=EXIT_UNREACHABLE
            ) from None


# POST /executions/{id}/<action> routes: a flow named like one of them is created through
# Kestra's other path, /executions/trigger/{namespace}/{flow}.
_CONTROL_ACTIONS = frozenset({"kill", "restart", "replay", "resume", "state"})


def _create_path(namespace: str, flow_id: str) -> str:
    if flow_id in _CONTROL_ACTIONS:
        return f"/executions/trigger/{namespace}/{flow_id}"
    return f"/executions/{namespace}/{flow_id}"


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _error(response: httpx.Response) -> ClientError:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    message = body.get("message") if isinstance(body, dict) else None
    if response.status_code == 401:
        message = f"{message or 'unauthorized'} (set LANNER_TOKEN; `lanner token create`)"
    return ClientError(
        f"{response.status_code}: {message or response.reason_phrase}",
        status=response.status_code,
        body=body,
    )
