"""The variables only a task's working folder gives: `{{ workingDir }}`, `{{ outputDir }}`
and `{{ outputFiles.<name> }}`.

Kestra renders a task's properties on its worker, where two kinds of task add them:
- script tasks (their Process task runner): `workingDir`, the task's folder, in `commands`,
  `beforeCommands`, `script` and `inputFiles`; `outputDir`, a folder whose files become
  output files (with `outputDirectory: true`);
- DuckDB's Query and Queries: `workingDir`, and `outputFiles.<name>`, the path of a file to
  write for each name in the task's `outputFiles`, in `sql`.
Lanner's executor renders a task's properties before dispatch and has no folder, so these
travel as secret()/kv()/read() do: a template that only prints one (`python {{ workingDir
}}/main.py`) keeps a marker in its place; one that acts on it (`{{ workingDir | upper }}`)
goes whole to the worker as a `render` marker (streams/core/deferred.py). The worker
resolves both once it has made the task's folder (streams/deferred_lookups.py,
streams/worker_edges.py). A task type offers them with the class constant
FOLDER_VARIABLES (any of its properties may use them); any other task using one fails,
the message naming the variable and the task. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from streams.core.context import deferred_marker
from streams.core.expressions import Analysis

FOLDER_KIND = "folder"
WORKING_DIR = "workingDir"
OUTPUT_DIR = "outputDir"
OUTPUT_FILES = "outputFiles"
FOLDER_VARIABLES = frozenset({WORKING_DIR, OUTPUT_DIR, OUTPUT_FILES})
SCRIPT_VARIABLES = frozenset({WORKING_DIR, OUTPUT_DIR})
DUCKDB_VARIABLES = frozenset({WORKING_DIR, OUTPUT_FILES})
# Variables holding a map: printed bare they print the map, so they render on the worker.
_MAPS = frozenset({OUTPUT_FILES})


class _FolderKeys(Mapping[str, str]):
    """`outputFiles` in the executor: every key gives a marker for the worker to resolve."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str)

    def __getitem__(self, key: str) -> str:
        return deferred_marker(FOLDER_KIND, [self._name, key])

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def placeholders(offered: frozenset[str]) -> dict[str, Any]:
    """The executor's stand-ins for the folder variables a task type offers."""
    return {
        name: _FolderKeys(name) if name in _MAPS else deferred_marker(FOLDER_KIND, [name])
        for name in offered
    }


def folder_use(analysis: Analysis, offered: frozenset[str], task_type: str) -> bool:
    """Whether the template acts on a folder variable, so that it must render on the
    worker; ValueError when the task type does not offer one that it reads."""
    used = analysis.names & FOLDER_VARIABLES
    missing = sorted(used - offered)
    if missing:
        raise ValueError(unoffered(missing[0], task_type))
    return bool(used & analysis.acted_names) or bool(used & _MAPS & analysis.bare_names)


def unoffered(name: str, task_type: str) -> str:
    return (
        f"{{{{ {name} }}}} is only known on a worker, to the tasks that run in a working "
        "folder (script tasks: workingDir, outputDir; DuckDB Query and Queries: workingDir, "
        f"outputFiles), and {task_type or 'this task'} has none"
    )
