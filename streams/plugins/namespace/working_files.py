"""`namespaceFiles: {enabled, include, exclude}`: a namespace's files copied into a task's
working directory before it runs (Kestra's script tasks and WorkingDirectory), so a
`python main.py` finds main.py and the modules beside it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from schemas.storage import StorageError
from streams.plugins.base import WorkerContext
from streams.plugins.namespace.paths import BadPath, Selection
from streams.plugins.scripts.files import FilesError

# More files than this in one working directory is a mistake (a pattern too wide).
MAX_FILES = 10_000


class NamespaceFiles(BaseModel):
    """Kestra's NamespaceFiles: `enabled` defaults to true, so giving `include` alone is
    enough; no include means every file of the flow's namespace."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


async def materialise(ctx: WorkerContext, folder: Path, spec: NamespaceFiles | None) -> list[str]:
    """Copies the matching files of the flow's namespace into `folder`, keeping their
    folders; the paths copied. FilesError names what went wrong."""
    if spec is None or not spec.enabled:
        return []
    if ctx.namespace_files is None or ctx.storage is None:
        raise FilesError("namespaceFiles: this worker has no namespace file store")
    try:
        selected = Selection.of(spec.include, spec.exclude)
    except BadPath as exc:
        raise FilesError(f"namespaceFiles: {exc}") from None
    chosen = [(p, uri) for p, uri in await ctx.namespace_files.files(ctx.namespace) if selected(p)]
    if len(chosen) > MAX_FILES:
        raise FilesError(
            f"namespaceFiles: {len(chosen)} files of namespace {ctx.namespace} match, "
            f"more than {MAX_FILES}; narrow `include`"
        )
    root = folder.resolve()
    storage = ctx.storage
    for path, uri in chosen:
        target = (folder / path.lstrip("/")).resolve()
        if not target.is_relative_to(root):  # paths are normalised on write; belt and braces
            raise FilesError(f"namespaceFiles: {path} would land outside the working directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            await asyncio.to_thread(storage.get_file, uri, target)
        except StorageError as exc:
            raise FilesError(
                f"namespaceFiles: {path} of namespace {ctx.namespace}: {exc}"
            ) from None
    if chosen:
        await ctx.log(
            "DEBUG", f"namespaceFiles: {len(chosen)} file(s) of {ctx.namespace} copied in"
        )
    return [p for p, _ in chosen]
