"""The polling HTTP trigger: `io.kestra.plugin.core.http.Trigger` (formerly
`io.kestra.plugin.fs.http.Trigger`).

Every `interval` the scheduler calls `uri`; when `responseCondition` (rendered with
`response.statusCode`, `response.body`, `response.headers`) is truthy it starts an
execution whose `trigger` variables are Kestra's Request output: `uri`, `code`,
`headers`, `body` (streams/triggers/http_poller.py).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.states import State

HTTP_TYPES = ("io.kestra.plugin.core.http.Trigger", "io.kestra.plugin.fs.http.Trigger")
DEFAULT_CONDITION = "{{ response.statusCode < 400 }}"


class HttpTriggerOptions(BaseModel):
    """Kestra's `options`: the timeouts and redirects apply; the rest listed here change
    nothing for a trigger (a failed status is always a response for the condition).
    Proxy and authentication options are refused rather than silently not used."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    connectTimeout: str | None = None
    readTimeout: str | None = None
    readIdleTimeout: str | None = None
    followRedirects: bool = True
    connectionPoolIdleTimeout: str | None = None
    defaultCharset: str | None = None
    allowFailed: bool | None = None
    allowedResponseCodes: list[int] | None = None


class HttpTrigger(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    type: str
    description: str | None = None
    uri: str = Field(min_length=1)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    body: str | None = None
    formData: dict[str, Any] | None = None
    contentType: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    options: HttpTriggerOptions = Field(default_factory=HttpTriggerOptions)
    interval: str = "PT60S"
    responseCondition: str = DEFAULT_CONDITION
    # Accepted; the body is kept as text in the trigger variables (Lanner has no
    # encrypted-output type), see the README.
    encryptBody: bool = False
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    disabled: bool = False
    # Disable the trigger when an execution it started ends in one of these states.
    stopAfter: list[State] | None = None


MODELS: dict[str, type[BaseModel]] = dict.fromkeys(HTTP_TYPES, HttpTrigger)
