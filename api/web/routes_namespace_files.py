"""/api/v1/{tenant}/namespaces/{ns}/files: a namespace's files, on Kestra's routes.

A write stores the content in internal storage (by digest) and puts a NamespaceFileWritten
or NamespaceFileDeleted event on the tenant's `namespace-file-events` topic: the very
events the namespace.UploadFiles/DeleteFiles tasks write (streams/plugins/namespace), so
a flow's `namespaceFiles` and `read()` see a file uploaded here, and the other way round.
Reads come from a live view of that topic, caught up after every write (read-your-writes).
Bodies are bounded by the API's body limit (413, limits.request_body_bytes).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.web.errors import ApiError
from api.web.models import ANSWER
from api.web.models_namespace_files import FileAttributes, FileRevision
from api.web.namespace_file_writes import checked_path, store_upload, write_event
from api.web.services import Services, services
from streams.plugins.namespace.events import NamespaceFileDeleted
from streams.plugins.namespace.paths import BadPath, folder
from streams.plugins.namespace.view import FileVersion
from streams.secrets.stored import NAMESPACE

router = APIRouter(prefix="/namespaces", tags=["files"])
Svc = Annotated[Services, Depends(services)]
PathQuery = Annotated[str, Query(description="The file's path, e.g. /scripts/main.py")]
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"fileContent": {"type": "string", "format": "binary"}},
                    "required": ["fileContent"],
                }
            }
        },
    }
}


def _namespace(namespace: str) -> None:
    if not NAMESPACE.match(namespace):
        raise ApiError(422, f"{namespace!r} is not a namespace")


def _known(svc: Services, namespace: str) -> None:
    """404 for a namespace that has neither a flow nor ever a file (a typo, usually)."""
    tenant = svc.settings.tenant_id
    if svc.files.has_namespace(tenant, namespace):
        return
    prefix = f"{tenant}/{namespace}"
    if any(
        k.startswith(prefix + "/") or k.startswith(prefix + ".") for k in svc.catalog.flow_keys()
    ):
        return
    raise ApiError(404, f"namespace {namespace} not found: it has no flow and no namespace file")


def _millis(time: dt.datetime) -> int:
    return int(time.timestamp() * 1000)


def _file(version: FileVersion, first: dt.datetime) -> dict[str, Any]:
    written = version.written
    return {
        "fileName": version.path.rsplit("/", 1)[-1],
        "type": "File",
        "size": written.size,
        "lastModifiedTime": _millis(written.time),
        "creationTime": _millis(first),
        "metadata": {},
        "version": version.version,
    }


def _live(svc: Services, namespace: str, path: str) -> FileVersion:
    found = svc.files.get(svc.settings.tenant_id, namespace, path)
    if found is None:
        _known(svc, namespace)
        raise ApiError(404, f"namespace file {path} not found in namespace {namespace}")
    return found


def _created(svc: Services, namespace: str, path: str) -> dt.datetime:
    versions = svc.files.versions(svc.settings.tenant_id, namespace, path)
    return versions[0].written.time if versions else dt.datetime.now(dt.UTC)


@router.get(
    "/{namespace}/files/directory",
    name="list_namespace_directory",
    response_model=list[FileAttributes],
    **ANSWER,
)
def list_directory(
    namespace: str, svc: Svc, path: str | None = None, recursive: bool = False
) -> list[dict[str, Any]]:
    """The files and folders directly inside `path` (the namespace's root by default);
    `recursive=true`: every file below it instead, `fileName` its path from `path`."""
    _namespace(namespace)
    try:
        base = folder(path or "/")
    except BadPath as exc:
        raise ApiError(422, f"namespace {namespace}: {exc}") from None
    _known(svc, namespace)
    files = [
        f for f in svc.files.files(svc.settings.tenant_id, namespace) if f.path.startswith(base)
    ]
    if base != "/" and not files:
        raise ApiError(404, f"folder {base} not found in namespace {namespace}")
    if recursive:
        return [
            {**_file(f, _created(svc, namespace, f.path)), "fileName": f.path[len(base) :]}
            for f in files
        ]
    entries: dict[str, dict[str, Any]] = {}
    for found in files:
        name, _, rest = found.path[len(base) :].partition("/")
        if not rest:
            entries[name] = _file(found, _created(svc, namespace, found.path))
            continue
        # A folder: as old as its oldest file, as new as its newest.
        time = _millis(found.written.time)
        entry = entries.setdefault(
            name,
            {
                "fileName": name,
                "type": "Directory",
                "size": 0,
                "lastModifiedTime": time,
                "creationTime": time,
                "metadata": {},
            },
        )
        entry["lastModifiedTime"] = max(entry["lastModifiedTime"], time)
        entry["creationTime"] = min(entry["creationTime"], time)
    return [entries[name] for name in sorted(entries)]


@router.get(
    "/{namespace}/files/stats", name="namespace_file_stats", response_model=FileAttributes, **ANSWER
)
def stats(namespace: str, svc: Svc, path: str | None = None) -> dict[str, Any]:
    """A file's (or folder's) attributes."""
    _namespace(namespace)
    if path is None or path.strip() in ("", "/"):
        _known(svc, namespace)
        return {
            "fileName": "",
            "type": "Directory",
            "size": 0,
            "lastModifiedTime": 0,
            "creationTime": 0,
        }
    wanted = checked_path(path, namespace)
    found = svc.files.get(svc.settings.tenant_id, namespace, wanted)
    if found is not None:
        return _file(found, _created(svc, namespace, wanted))
    inside = [
        f
        for f in svc.files.files(svc.settings.tenant_id, namespace)
        if f.path.startswith(wanted + "/")
    ]
    if not inside:
        _live(svc, namespace, wanted)  # raises the 404
    times = [_millis(f.written.time) for f in inside]
    name = wanted.rsplit("/", 1)[-1]
    return {
        "fileName": name,
        "type": "Directory",
        "size": 0,
        "lastModifiedTime": max(times),
        "creationTime": min(times),
    }


@router.get("/{namespace}/files/search", name="search_namespace_files")
def search(namespace: str, svc: Svc, q: str = "") -> list[str]:
    """The paths of the files whose path contains `q`."""
    _namespace(namespace)
    _known(svc, namespace)
    return [f.path for f in svc.files.files(svc.settings.tenant_id, namespace) if q in f.path]


@router.get(
    "/{namespace}/files/revisions",
    name="namespace_file_revisions",
    response_model=list[FileRevision],
    **ANSWER,
)
def revisions(namespace: str, path: PathQuery, svc: Svc) -> list[dict[str, Any]]:
    """Every version of a file, oldest first (a deleted file's too)."""
    _namespace(namespace)
    wanted = checked_path(path, namespace)
    versions = svc.files.versions(svc.settings.tenant_id, namespace, wanted)
    if not versions:
        _live(svc, namespace, wanted)  # raises the 404
    return [
        {
            "revision": v.version,
            "path": v.path,
            "size": v.written.size,
            "sha256": v.written.sha256,
            "uri": v.written.uri,
            "time": v.written.time.isoformat(),
            "actor": v.written.actor or v.written.execution_id,
        }
        for v in versions
    ]


@router.get(
    "/{namespace}/files",
    name="get_namespace_file",
    response_class=Response,
    responses={
        200: {
            "description": "The file's bytes",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
def get_file(namespace: str, path: PathQuery, svc: Svc, revision: int | None = None) -> Response:
    """A file's content (its current version, or `revision`)."""
    _namespace(namespace)
    wanted = checked_path(path, namespace)
    if revision is None:
        found = _live(svc, namespace, wanted)
    else:
        versions = svc.files.versions(svc.settings.tenant_id, namespace, wanted)
        if not 1 <= revision <= len(versions):
            _known(svc, namespace)
            raise ApiError(
                404, f"revision {revision} of {wanted} not found in namespace {namespace}"
            )
        found = versions[revision - 1]
    content = svc.storage.get_bytes(found.written.uri)
    return Response(content, media_type="application/octet-stream")


@router.post("/{namespace}/files", name="create_namespace_file", openapi_extra=UPLOAD_BODY)
async def create_file(
    namespace: str, path: PathQuery, request: Request, svc: Svc
) -> list[dict[str, Any]]:
    """Upload a file (multipart, part `fileContent`) as a new version of `path`; a `.zip`
    upload is unpacked into the namespace, as Kestra does, below `path` as a folder."""
    _namespace(namespace)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "multipart/form-data":
        raise ApiError(415, "send the file as multipart/form-data, in a part named fileContent")
    form = await request.form()
    upload = form.get("fileContent")
    if not isinstance(upload, UploadFile):
        raise ApiError(422, "the form has no file part named fileContent")
    if (upload.filename or "").lower().endswith(".zip"):
        try:
            under = folder(path)
        except BadPath as exc:
            raise ApiError(422, f"namespace {namespace}: {exc}") from None
        return await run_in_threadpool(store_upload, svc, namespace, under, upload, True)
    wanted = checked_path(path, namespace)
    return await run_in_threadpool(store_upload, svc, namespace, wanted, upload, False)


@router.delete(
    "/{namespace}/files",
    name="delete_namespace_file",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Deleted (a folder: every file in it)"}},
)
def delete_file(namespace: str, path: PathQuery, svc: Svc) -> Response:
    """Delete a file, or a folder and every file in it. Earlier versions stay readable
    with `revision`."""
    _namespace(namespace)
    wanted = checked_path(path, namespace)
    tenant = svc.settings.tenant_id
    doomed = [
        f.path
        for f in svc.files.files(tenant, namespace)
        if f.path == wanted or f.path.startswith(wanted + "/")
    ]
    if not doomed:
        _live(svc, namespace, wanted)  # raises the 404
    now = dt.datetime.now(dt.UTC)
    for gone in doomed:
        write_event(
            svc,
            NamespaceFileDeleted(
                tenant=tenant, namespace=namespace, path=gone, time=now, actor=svc.actor
            ),
        )
    return Response(status_code=204)


@router.get(
    "/{namespace}/files/export",
    name="export_namespace_files",
    response_class=Response,
    responses={
        200: {
            "description": "A zip of every file",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def export(namespace: str, svc: Svc) -> Response:
    """Every file of the namespace as a zip."""
    _namespace(namespace)
    _known(svc, namespace)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for found in svc.files.files(svc.settings.tenant_id, namespace):
            archive.writestr(found.path.lstrip("/"), svc.storage.get_bytes(found.written.uri))
    disposition = f'attachment; filename="{namespace}_files.zip"'
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={"content-disposition": disposition},
    )
