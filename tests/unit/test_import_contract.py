"""What each package may import, checked rather than promised (issue 18's contract).

The executor's decisions are pure functions: nothing under streams/core reads a clock,
draws a random number, logs, touches the file system, the network or a process, or
imports the edges (Faust apps, the log, storage). `schemas` is the language and imports
nothing of ours. Checked on each module's own import statements (a plugin's module
imported by the core is held to its own package's rules).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Standard modules that read the clock, randomness, the environment or do I/O.
IMPURE_STDLIB = {
    "asyncio",
    "logging",
    "os",
    "random",
    "secrets",
    "shutil",
    "socket",
    "subprocess",
    "sys",
    "tempfile",
    "threading",
    "time",
    "urllib",
    "uuid",
    "http",
    "pathlib",
    "io",
}
# Our packages that are edges: apps, the log, storage, secrets, the API.
IMPURE_OURS = (
    "api",
    "projections",
    "streams.app",
    "streams.log",
    "streams.storage",
    "streams.writers",
    "streams.scheduler",
    "streams.triggers",
    "streams.histories",
    "streams.secrets",
    "streams.deferred_lookups",
    "streams.worker_edges",
    "streams.flow_catalog",
)
OURS = ("api", "projections", "streams", "schemas")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _under(name: str, prefixes: tuple[str, ...] | set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("path", _modules("streams/core"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_imports_nothing_impure(path: Path) -> None:
    bad = [
        f"line {line}: {name}"
        for line, name in _imports(path)
        if _under(name, IMPURE_STDLIB) or _under(name, IMPURE_OURS)
    ]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize("path", _modules("schemas"), ids=lambda p: str(p.relative_to(ROOT)))
def test_schemas_import_nothing_of_ours_but_schemas(path: Path) -> None:
    bad = [
        f"line {line}: {name}"
        for line, name in _imports(path)
        if _under(name, OURS) and not _under(name, ("schemas",))
    ]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_contract_sees_a_violation() -> None:
    # The checker itself must catch what it is for (a vacuous contract passes anything).
    sample = ROOT / "streams" / "core" / "handle.py"
    names = {name for _, name in _imports(sample)}
    assert "schemas.commands" in names
    assert not _under("timeit", IMPURE_STDLIB) and _under("time", IMPURE_STDLIB)
    assert _under("streams.app.executor", IMPURE_OURS)
