"""The worker-side resolution of deferred lookups: `secret()`, `kv()` and `read()`, and
the variables of a task's working folder (`{{ workingDir }}`...).

The executor holds none of their data, so it renders them to deferred markers
(streams/core/context.py, streams/core/deferred.py, streams/core/folder_variables.py); the
worker replaces each marker by the real value just before the task runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from schemas.storage import SCHEME
from streams.core.context import DEFERRED_PATTERN
from streams.core.deferred import RENDER_KIND, unpack_render
from streams.core.expressions import ExpressionError, RenderLimits, analyse, render
from streams.core.expressions.engine import DEFAULT_LIMITS
from streams.core.folder_variables import (
    FOLDER_KIND,
    FOLDER_VARIABLES,
    OUTPUT_DIR,
    OUTPUT_FILES,
    WORKING_DIR,
)
from streams.plugins.scripts.files import FilesError, output_dir, output_file
from streams.secrets.environment import SECRET_PREFIX


class DeferredError(Exception):
    """A deferred lookup could not be resolved (unknown secret, missing KV key...)."""


# (kind, argument) -> value; raises DeferredError.
Resolver = Callable[[str, Any], Any]


def resolve_deferred(value: Any, resolve: Resolver) -> Any:
    """Replace deferred markers inside `value` (dicts and lists are walked).

    A string that is exactly one marker takes the looked-up value as is (a KV value may be
    a dict); markers inside text are replaced by the value's text.
    """
    if isinstance(value, str):
        if "\x00" not in value:
            return value
        whole = DEFERRED_PATTERN.fullmatch(value)
        if whole is not None:
            return resolve(whole.group(1), json.loads(whole.group(2)))
        return DEFERRED_PATTERN.sub(
            lambda m: _as_text(resolve(m.group(1), json.loads(m.group(2)))), value
        )
    if isinstance(value, Mapping):
        return {k: resolve_deferred(v, resolve) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_deferred(v, resolve) for v in value]
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


# --- the working folder's variables ----------------------------------------------------


class TaskFolder:
    """The working-folder variables of one job (streams/core/folder_variables.py): the
    folder is made on first use; `outputFiles` knows the names the task declares."""

    def __init__(self, make: Callable[[], Path], task_id: str, output_files: Sequence[str]):
        self._make = make
        self._path: Path | None = None
        self._task_id = task_id
        self._output_files = list(output_files)

    def path(self) -> Path:
        if self._path is None:
            self._path = self._make()
        return self._path

    def value(self, argument: Any) -> str:
        """The value of a `folder` marker's argument: [name] or [name, key]."""
        name = argument[0] if isinstance(argument, list) and argument else None
        if name == WORKING_DIR:
            return str(self.path())
        if name == OUTPUT_DIR:
            folder = output_dir(self.path(), self._task_id)
            folder.mkdir(parents=True, exist_ok=True)
            return str(folder)
        if name == OUTPUT_FILES and len(argument) == 2:
            key = str(argument[1])
            if key not in self._output_files:
                declared = ", ".join(self._output_files) or "it declares none"
                raise DeferredError(
                    f"{{{{ outputFiles.{key} }}}}: {key!r} is not one of the task's "
                    f"outputFiles ({declared})"
                )
            try:
                return str(output_file(self.path(), key))
            except FilesError as exc:
                raise DeferredError(str(exc)) from None
        raise DeferredError(f"malformed working-folder lookup {argument!r}")

    def variables(self, names: Collection[str]) -> dict[str, Any]:
        """The values of the folder variables named, for a template rendered here."""
        found: dict[str, Any] = {}
        for name in (WORKING_DIR, OUTPUT_DIR):
            if name in names:
                found[name] = self.value([name])
        if OUTPUT_FILES in names:
            found[OUTPUT_FILES] = {k: self.value([OUTPUT_FILES, k]) for k in self._output_files}
        return found


def _no_folder(what: str) -> DeferredError:
    return DeferredError(f"{what} needs the task's working folder, and this worker gave none")


# --- the worker's resolver -------------------------------------------------------------

# read() returns text; a file bigger than this is refused rather than put in a property.
MAX_READ_BYTES = 10 * 1024 * 1024


class _Lookups(Mapping[str, Any]):
    """secret()/kv()/read() data for a deferred render, looked up on demand: a key is
    present when the resolver finds it (so `kv('k', errorOnMissing=false)` still works)."""

    def __init__(self, kind: str, resolve: Resolver) -> None:
        self._kind = kind
        self._resolve = resolve
        self._found: dict[str, Any] = {}

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        if key not in self._found:
            try:
                self._found[key] = self._resolve(self._kind, key)
            except DeferredError:
                if self._kind == "secret":
                    raise  # an unknown secret's message names where it was looked for
                return False
        return True

    def __getitem__(self, key: str) -> Any:
        if key not in self:
            raise KeyError(key)
        return self._found[key]

    def __iter__(self) -> Any:
        return iter(self._found)

    def __len__(self) -> int:
        return len(self._found)


def render_deferred(
    argument: Any,
    resolve: Resolver,
    limits: RenderLimits = DEFAULT_LIMITS,
    derived: list[str] | None = None,
    folder: TaskFolder | None = None,
) -> Any:
    """A template the executor deferred (streams/core/deferred.py), rendered with the real
    secrets, KV values, files and working-folder variables, within the same render limits
    as the executor's; DeferredError if it fails. What a template made of a secret is added
    to `derived`."""
    try:
        template, variables, now = unpack_render(argument)
    except (ValueError, TypeError) as exc:
        raise DeferredError(f"malformed deferred render: {exc}") from None
    context = {
        **variables,
        "_secrets": _Lookups("secret", resolve),
        "_kv": _Lookups("kv", resolve),
        "_files": _Lookups("read", resolve),
    }
    folder_names = analyse(template).names & FOLDER_VARIABLES
    if folder_names:
        if folder is None:
            raise _no_folder(f"{{{{ {min(folder_names)} }}}}")
        context.update(folder.variables(folder_names))
    try:
        value = render(template, context, now=now, limits=limits)
    except ExpressionError as exc:
        raise DeferredError(str(exc)) from None
    if derived is not None and "secret(" in template:
        derived.append(_as_text(value))
    return value


def make_resolver(
    secrets: Mapping[str, str],
    read_file: Callable[[str], bytes] | None,
    kv_value: Callable[[str], tuple[bool, Any]] | None,
    files_scope: str,
    derived: list[str] | None = None,
    render_limits: RenderLimits = DEFAULT_LIMITS,
    read_namespace_file: Callable[[str], bytes] | None = None,
    folder: TaskFolder | None = None,
) -> Resolver:
    """The lookups a worker can do for one job. `files_scope` is the `kestra://` prefix a
    task may read (its tenant and namespace), so a flow cannot read another one's files;
    read() of a path that is no `kestra://` URI reads the flow's namespace file
    (`read_namespace_file`), as Kestra's does.
    A deferred render that used a secret adds its text to `derived`, to be masked too.
    `folder` gives the working-folder variables, for a task that has a folder."""

    def resolve(kind: str, argument: Any) -> Any:
        name = str(argument)
        if kind == RENDER_KIND:
            return render_deferred(argument, resolve, render_limits, derived, folder)
        if kind == FOLDER_KIND:
            if folder is None:
                raise _no_folder(f"{{{{ {'.'.join(map(str, argument))} }}}}")
            return folder.value(argument)
        if kind == "secret":
            if name not in secrets:
                raise DeferredError(
                    f"secret {name!r} is not defined (not in this namespace or its parents, "
                    f"nor as {SECRET_PREFIX}{name} on this worker)"
                )
            return secrets[name]
        if kind == "read" and not name.startswith(SCHEME):
            if read_namespace_file is None:
                raise DeferredError(f"read(): {name}: this worker has no namespace files")
            try:
                return read_namespace_file(name).decode("utf-8", errors="replace")
            except Exception as exc:  # unknown file, bad path, too big, storage down
                raise DeferredError(f"read(): {exc}") from None
        if kind == "read":
            if read_file is None:
                raise DeferredError("read(): this worker has no storage")
            if not name.startswith(files_scope):
                raise DeferredError(f"read(): {name} is outside this flow's namespace")
            try:
                return read_file(name).decode("utf-8", errors="replace")
            except Exception as exc:  # missing file, too big, storage down
                raise DeferredError(f"read(): {exc}") from None
        if kind == "kv":
            if kv_value is None:
                raise DeferredError("kv(): this worker has no KV store")
            found, value = kv_value(name)
            if not found:
                raise DeferredError(f"KV key {name!r} is not defined")
            return value
        raise DeferredError(f"unknown deferred lookup {kind!r}")

    return resolve


def has_deferred(value: Any, kind: str | None = None) -> bool:
    """Whether `value` holds a marker of `kind` (any kind when None); a deferred render
    may call any lookup, so it counts as every kind."""
    if isinstance(value, str):
        return (
            any(
                kind is None or m.group(1) in (kind, RENDER_KIND)
                for m in DEFERRED_PATTERN.finditer(value)
            )
            if "\x00" in value
            else False
        )
    if isinstance(value, Mapping):
        return any(has_deferred(v, kind) for v in value.values())
    if isinstance(value, list):
        return any(has_deferred(v, kind) for v in value)
    return False
