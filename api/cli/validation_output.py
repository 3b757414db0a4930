"""Loading flow files from the command line's arguments, and showing their problems.

Shared by the `flow` commands (validate, and deploy/test, which refuse invalid flows
the same way), so every command reports a broken flow identically.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from schemas.settings import Limits
from streams.core import FlowProblem, ValidatedFlow, validate_flow
from streams.plugins.registry import PluginRegistry

FLOW_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class FileResult:
    file: Path
    result: ValidatedFlow | list[FlowProblem]

    @property
    def valid(self) -> bool:
        return isinstance(self.result, ValidatedFlow)

    @property
    def problems(self) -> list[FlowProblem]:
        return [] if isinstance(self.result, ValidatedFlow) else self.result


def flow_files(paths: Iterable[Path]) -> list[Path | FileResult]:
    """The files named, a directory standing for its *.yml/*.yaml files (not recursive).

    A path that cannot be used comes back as a failed `FileResult`, so the caller reports
    it with the other files instead of stopping at the first bad argument.
    """
    found: list[Path | FileResult] = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in FLOW_SUFFIXES and p.is_file())
            if not files:
                found.append(_failed(path, "no *.yml or *.yaml files in this directory"))
            found.extend(files)
        elif path.is_file():
            found.append(path)
        else:
            found.append(_failed(path, "no such file or directory"))
    return found


def validate_files(
    paths: Iterable[Path], registry: PluginRegistry, limits: Limits
) -> list[FileResult]:
    results: list[FileResult] = []
    for item in flow_files(paths):
        if isinstance(item, FileResult):
            results.append(item)
            continue
        try:
            source = item.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            results.append(_failed(item, f"cannot read the file: {exc}"))
            continue
        results.append(FileResult(item, validate_flow(source, registry, limits)))
    return results


def _failed(path: Path, message: str) -> FileResult:
    return FileResult(path, [FlowProblem("", None, message)])


def print_results(results: Iterable[FileResult], console: Console) -> None:
    for item in results:
        if isinstance(item.result, ValidatedFlow):
            flow = item.result.flow
            # soft_wrap: a long path must not break the line that scripts and people grep.
            console.print(
                Text.assemble(("✓ ", "green"), str(item.file), f" ({flow.namespace}.{flow.id})"),
                soft_wrap=True,
            )
            continue
        count = len(item.result)
        noun = "problem" if count == 1 else "problems"
        console.print(
            Text.assemble(("✗ ", "red"), str(item.file), f" ({count} {noun})"), soft_wrap=True
        )
        console.print(problems_table(item.result))


def problems_table(problems: Iterable[FlowProblem]) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, padding=(0, 2, 0, 2))
    table.add_column("Line", justify="right", style="cyan", no_wrap=True)
    table.add_column("Path", style="yellow", overflow="fold")
    table.add_column("Problem", overflow="fold")
    for problem in problems:
        line = str(problem.line) if problem.line is not None else "-"
        # Text, not markup: messages quote user input, which may hold `[...]`.
        table.add_row(line, Text(problem.path or "(document)"), Text(problem.message))
    return table


def results_as_json(results: Iterable[FileResult]) -> list[dict[str, Any]]:
    return [
        {
            "file": str(item.file),
            "valid": item.valid,
            "problems": [
                {"path": p.path, "line": p.line, "message": p.message} for p in item.problems
            ],
        }
        for item in results
    ]
