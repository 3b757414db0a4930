"""Writing namespace files for the API (api/web/routes_namespace_files.py): an upload, or
each entry of a zip upload, stored by digest, then its event written and folded into the
API's view before the answer (read-your-writes)."""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile

from api.web.errors import ApiError
from api.web.services import Services
from streams.plugins.namespace.events import NamespaceFileDeleted, NamespaceFileWritten
from streams.plugins.namespace.paths import BadPath, normalise
from streams.plugins.namespace.store import store_content

# A zip upload is unpacked into files: bounded in entries.
MAX_ZIP_ENTRIES = 10_000


def checked_path(path: str, namespace: str) -> str:
    try:
        return normalise(path)
    except BadPath as exc:
        raise ApiError(422, f"namespace {namespace}: {exc}") from None


def write_event(svc: Services, event: NamespaceFileWritten | NamespaceFileDeleted) -> None:
    partition, offset = svc.producer.send_and_wait(
        svc.topics.namespace_files, event.record_key, event.model_dump_json().encode()
    )
    svc.files.wait_for_record(partition, offset, svc.settings.read_your_writes_timeout_s)


def _store(svc: Services, namespace: str, path: str, source: Path) -> dict[str, Any]:
    tenant = svc.settings.tenant_id
    uri, size, sha = store_content(svc.storage, tenant, namespace, source)
    event = NamespaceFileWritten(
        tenant=tenant,
        namespace=namespace,
        path=path,
        uri=uri,
        size=size,
        sha256=sha,
        time=dt.datetime.now(dt.UTC),
        actor=svc.actor,
    )
    write_event(svc, event)
    found = svc.files.get(tenant, namespace, path)
    return {"path": path, "size": size, "version": found.version if found else None}


def store_upload(
    svc: Services, namespace: str, path: str, upload: UploadFile, unzip: bool
) -> list[dict[str, Any]]:
    """The upload as one file at `path`, or (`unzip`) its entries below the folder `path`."""
    upload.file.seek(0)
    with tempfile.TemporaryDirectory(prefix="lanner-nsfile-") as spool:
        local = Path(spool) / "content"
        with local.open("wb") as target:
            while chunk := upload.file.read(1024 * 1024):
                target.write(chunk)
        if unzip:
            return _store_zip(svc, namespace, local, Path(spool), path)
        return [_store(svc, namespace, path, local)]


def _store_zip(
    svc: Services, namespace: str, archive: Path, spool: Path, under: str
) -> list[dict[str, Any]]:
    """Kestra unpacks a .zip upload into the namespace, entry by entry (here below `under`)."""
    limit = svc.settings.limits.upload_bytes
    try:
        with zipfile.ZipFile(archive) as unpacked:
            entries = [e for e in unpacked.infolist() if not e.is_dir()]
            if len(entries) > MAX_ZIP_ENTRIES:
                raise ApiError(
                    413, f"the zip holds {len(entries)} files, more than {MAX_ZIP_ENTRIES}"
                )
            if sum(e.file_size for e in entries) > limit:
                raise ApiError(
                    413,
                    f"the zip unpacks to more than {limit} bytes "
                    "(limits.upload_bytes, LANNER_LIMITS_UPLOAD_BYTES)",
                )
            # Every entry checked before any is stored: a bad one refuses the whole archive.
            paths = {e.filename: checked_path(under + e.filename, namespace) for e in entries}
            stored = []
            for entry in entries:
                local = spool / "entry"
                with unpacked.open(entry) as source, local.open("wb") as target:
                    while chunk := source.read(1024 * 1024):
                        target.write(chunk)
                stored.append(_store(svc, namespace, paths[entry.filename], local))
            return stored
    except (zipfile.BadZipFile, io.UnsupportedOperation) as exc:
        raise ApiError(422, f"the upload is named .zip but is not a zip archive: {exc}") from None
