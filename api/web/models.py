"""The API's answers as pydantic models: the one error body, and the shapes shared by
several route groups (labels, command acknowledgements, pages).

The models are the OpenAPI document's schemas, from which clients are generated (the web
UI's among them), so they name every field the API sends. Documents read from the search
views are validated against them on the way out (FastAPI's response_model), and fields
are written as they appear on the wire (Kestra's camelCase).

Models of documents allow extra fields: a view may gain a field before its model does,
and an answer must never fail for it. Every route is declared with
`response_model_exclude_unset=True` (see ANSWER), so a field the document does not carry
stays absent instead of turning into null: the JSON on the wire is the document's.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Keyword arguments of every route decorator that answers with a model: absent fields
# stay absent (the answer is the document as it is, not the model's defaults).
ANSWER: dict[str, Any] = {"response_model_exclude_unset": True}


class Answer(BaseModel):
    """An answer the API builds itself: exactly these fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Document(BaseModel):
    """A view's document as the API shows it: these fields, and maybe more."""

    model_config = ConfigDict(frozen=True, extra="allow")


# --- errors -------------------------------------------------------------------------------


class ParameterError(Answer):
    """What is wrong with one request parameter (query, path or body field)."""

    parameter: str
    message: str


class FlowProblemBody(Answer):
    """One problem of a flow's YAML: where it is (a path in the document, its line) and
    what is wrong."""

    path: str
    line: int | None
    message: str


class ErrorBody(Answer):
    """Every error the API answers (4xx and 5xx) has this body: a message that names what
    it concerns, and the details that apply to it."""

    message: str = Field(description="What went wrong, naming the flow, execution or trigger")
    errors: list[ParameterError | str] | None = Field(
        None, description="The parameters refused (422), or each invalid input's message"
    )
    problems: list[FlowProblemBody] | None = Field(
        None, description="A flow's validation problems (422)"
    )
    limit: str | None = Field(
        None, description="The limit a request is over (413): limits.<name>, LANNER_LIMITS_<NAME>"
    )
    maxBytes: int | None = Field(None, description="That limit, in bytes (413)")
    size: int | None = Field(None, description="The size of what was refused, in bytes (413)")
    seq: int | None = Field(None, description="The event the history does not fold at (409)")
    lastSeq: int | None = Field(None, description="The last event of the history (422 asOf)")
    id: str | None = Field(None, description="The execution concerned (504 webhook wait)")
    state: str | None = Field(None, description="Its state when the answer was given (504)")


_ERRORS = {
    400: "The request cannot be served as asked (a page past the search window)",
    401: "No API token, or an invalid one (authentication on)",
    403: "The API token may not do this (read-only)",
    404: "Not found: the flow, execution, key, route or tenant named",
    409: "Conflict with the current state (already exists, already ended, ...)",
    413: "The request body (or its inputs) is over a limit, which the body names",
    415: "The body is not of a media type this route reads",
    422: "A parameter or body that cannot be used; `errors` or `problems` say which",
    500: "An unexpected error (a bug): the server's log has its trace",
    503: "A service behind the API cannot be reached, or is not configured",
}
# Every API route's error answers, in the OpenAPI document (APIRouter(responses=...)).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in _ERRORS.items()
}
# The same for a route whose answer is not JSON (text, a stream): FastAPI would give its
# errors the route's media type; they are JSON all the same.
JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    for status, description in _ERRORS.items()
}


# --- shared shapes ------------------------------------------------------------------------


class Label(Answer):
    key: str
    value: str


class CommandAccepted(Answer):
    """A command is on the log (202); the executor decides, the views show it later."""

    id: str = Field(description="The execution the command is for")
    commandId: str = Field(description="The command's id on the log")
    state: str | None = Field(None, description="The execution's state when it was sent")


class ReplayAccepted(Answer):
    id: str = Field(description="The new execution the replay creates")
    originalId: str
    commandId: str
