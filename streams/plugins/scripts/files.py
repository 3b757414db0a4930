"""A task run's fresh working directory: input files in, output files (globs) out."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from schemas.storage import StorageError, is_storage_uri, task_file_uri
from streams.plugins.base import WorkerContext

# Bounds on what one task run may publish.
MAX_OUTPUT_FILES = 1_000


class FilesError(Exception):
    """A bad file name, a missing input in storage, an output that was never written."""


def make_workdir(ctx: WorkerContext) -> Path:
    if ctx.shared_dir is not None:
        return ctx.shared_dir
    if ctx.prepared_dir is not None:  # made when `{{ workingDir }}` was resolved
        ctx.prepared_dir.mkdir(parents=True, exist_ok=True)
        return ctx.prepared_dir
    root = (ctx.work_root or Path(tempfile.gettempdir()) / "lanner-work") / "runs"
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{ctx.task_run_id[:40]}-{ctx.attempt}-", dir=root))


def output_dir(folder: Path, task_id: str) -> Path:
    """Where a script task's `{{ outputDir }}` is: inside its folder, one per task (the
    tasks of a WorkingDirectory share the folder)."""
    return folder / f"output-{task_id}"


def output_file(folder: Path, name: str) -> Path:
    """Where DuckDB's `{{ outputFiles.<name> }}` is (a relative path inside the folder)."""
    return folder / _relative(name, "output file")


def remove_workdir(path: Path, ctx: WorkerContext | None = None) -> None:
    """Removes a task's folder; a WorkingDirectory's shared one stays for the next task."""
    if ctx is not None and ctx.shared_dir is not None and path == ctx.shared_dir:
        return
    shutil.rmtree(path, ignore_errors=True)


def _relative(name: str, what: str) -> PurePosixPath:
    rel = PurePosixPath(name)
    if not name or rel.is_absolute() or ".." in rel.parts:
        raise FilesError(f"{what} {name!r} must be a relative path inside the working directory")
    return rel


def parse_input_files(value: Mapping[str, str] | str | None) -> dict[str, str]:
    """Kestra accepts a map, or a JSON text of one (e.g. rendered from an expression)."""
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            raise FilesError("inputFiles must be a map of file name to content") from None
        if not isinstance(parsed, dict):
            raise FilesError("inputFiles must be a map of file name to content")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in parsed.items()}
    return dict(value)


async def write_input_files(ctx: WorkerContext, workdir: Path, files: Mapping[str, str]) -> None:
    """Each value is the file's content, or a `kestra://` URI whose content is fetched."""
    own_tenant = f"kestra://{ctx.tenant}/"
    for name, content in files.items():
        target = workdir / _relative(name, "input file")
        target.parent.mkdir(parents=True, exist_ok=True)
        if is_storage_uri(content):
            if ctx.storage is None:
                raise FilesError(f"input file {name!r}: this worker has no storage")
            if not content.startswith(own_tenant):
                raise FilesError(f"input file {name!r}: {content} belongs to another tenant")
            try:
                await asyncio.to_thread(ctx.storage.get_file, content, target)
            except StorageError as exc:
                raise FilesError(f"input file {name!r}: {exc}") from None
        else:
            target.write_text(content)


async def collect_output_files(
    ctx: WorkerContext, workdir: Path, patterns: list[str]
) -> dict[str, str]:
    """Upload every file matching the globs; a pattern matching nothing is an error."""
    if not patterns:
        return {}
    if ctx.storage is None:
        raise FilesError("outputFiles: this worker has no storage")
    found: dict[str, Path] = {}
    root = workdir.resolve()
    for pattern in patterns:
        _relative(pattern, "outputFiles pattern")
        matches = [p for p in sorted(workdir.glob(pattern)) if p.is_file()]
        matches = [p for p in matches if p.resolve().is_relative_to(root)]
        if not matches:
            raise FilesError(
                f"output file {pattern!r} was never written (no file in the working "
                "directory matches it)"
            )
        for path in matches:
            found[path.relative_to(workdir).as_posix()] = path
            if len(found) > MAX_OUTPUT_FILES:
                raise FilesError(f"outputFiles matched more than {MAX_OUTPUT_FILES} files")
    prefix = ctx.files_prefix()
    uris: dict[str, str] = {}
    for name, path in found.items():
        uri = task_file_uri(prefix, name)
        uris[name] = await asyncio.to_thread(ctx.storage.put_file, uri, path)
    return uris


async def collect_output_dir(ctx: WorkerContext, folder: Path) -> dict[str, str]:
    """Upload every file under a script task's `{{ outputDir }}`, named by its path there
    (as Kestra's ScriptService.uploadOutputFiles); nothing when the folder was never made."""
    if not folder.is_dir():
        return {}
    root = folder.resolve()
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.resolve().is_relative_to(root))
    if not files:
        return {}
    if ctx.storage is None:
        raise FilesError("outputDir: this worker has no storage")
    if len(files) > MAX_OUTPUT_FILES:
        raise FilesError(f"outputDir holds more than {MAX_OUTPUT_FILES} files")
    prefix = ctx.files_prefix()
    uris: dict[str, str] = {}
    for path in files:
        name = path.relative_to(folder).as_posix()
        uri = task_file_uri(prefix, name)
        uris[name] = await asyncio.to_thread(ctx.storage.put_file, uri, path)
    return uris
