"""Reading an execution's inputs from a request: a JSON object, or a form whose files
(FILE inputs) go to storage, held to the limits before anything is stored."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.web.errors import ApiError
from schemas.settings import Limits
from schemas.storage import Storage
from streams.writers.executions import InputsTooLarge, check_input_size

_PARSE_INLINE_BYTES = 64 * 1024
# Read by read_inputs, not declared as parameters: described for the OpenAPI document.
INPUTS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "input id -> value",
                }
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "format": "binary"},
                    "description": "FILE inputs as files",
                }
            },
        },
    }
}


def too_large(exc: InputsTooLarge) -> ApiError:
    return ApiError(413, str(exc), limit=exc.limit, maxBytes=exc.max_bytes, size=exc.size)


def _store_upload(storage: Storage, uri: str, upload: UploadFile) -> None:
    """Copy an upload (spooled to disk by Starlette past 1 MB) to storage in chunks."""
    upload.file.seek(0)
    with tempfile.NamedTemporaryFile(prefix="lanner-upload-") as spool:
        shutil.copyfileobj(upload.file, spool, 1024 * 1024)
        spool.flush()
        storage.put_file(uri, Path(spool.name))


async def read_inputs(
    request: Request,
    limits: Limits,
    files_at: Callable[[str, str], str] | None = None,
    storage: Storage | None = None,
) -> dict[str, Any]:
    """Inputs from a JSON body or a form; uploaded files (FILE inputs) go to storage and
    the input's value is their `kestra://` URI (`files_at(input, file name)`). The values
    other than files are held to limits.input_bytes before any file is stored."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form()
        values: dict[str, Any] = {}
        uploads: list[tuple[str, UploadFile]] = []
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if files_at is None or storage is None:
                    raise ApiError(422, f"input {name!r}: a file is not expected here")
                uploads.append((name, value))
            else:
                values[name] = value
        try:
            check_input_size("the request", values, limits)
        except InputsTooLarge as exc:
            raise too_large(exc) from None
        for name, upload in uploads:
            assert files_at is not None and storage is not None
            uri = files_at(name, upload.filename or "file")
            await run_in_threadpool(_store_upload, storage, uri, upload)
            values[name] = uri
        return values
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        # A large body is parsed off the event loop, so /health and the others need not wait.
        body = (
            json.loads(raw)
            if len(raw) < _PARSE_INLINE_BYTES
            else await run_in_threadpool(json.loads, raw)
        )
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(422, f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise ApiError(422, "the body's JSON nests too deeply to be read") from None
    if not isinstance(body, dict):
        raise ApiError(422, "inputs must be a JSON object of input id -> value")
    return body
