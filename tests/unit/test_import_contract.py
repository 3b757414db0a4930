"""What each package may import, checked rather than promised (issue 18's contract).

The executor's decisions are pure functions: nothing under streams/core reads a clock,
draws a random number, logs, touches the file system, the network or a process, or
imports the edges (Faust apps, the log, storage). `schemas` is the language and imports
nothing of ours. Checked on each module's own import statements, and transitively: every
module of ours that importing a streams.core module loads (followed statically through
our packages, and seen in a fresh interpreter's sys.modules) is held to the same rules.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterable
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
    # urllib.parse only transforms text (the storage URIs quote with it).
    "urllib.error",
    "urllib.request",
    "urllib.response",
    "urllib.robotparser",
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


# --- transitively: what importing the core loads ----------------------------------------

# Modules reached from the core that hold the worker-side bodies of tasks the core knows by
# class (it validates and plans them; a worker runs them): they may import the standard
# library's I/O for those bodies, never an edge of ours. Each entry must still be needed
# (a test below fails on a stale one), so the list only shrinks.
WORKER_SIDE: dict[str, str] = {
    "streams.plugins.core.execution": "Count, Resume, the purges: asyncio on the worker",
    "streams.plugins.core.files": "the storage tasks' file work (asyncio, shutil, pathlib)",
    "streams.plugins.core.for_each_item": "ForEachItem splits its items file on a worker",
    "streams.plugins.core.items": "FilterItems, DeduplicateItems read and write files",
    "streams.plugins.core.logs": "log.Fetch and PurgeLogs read the views (asyncio, time)",
    "streams.plugins.core.simple": "Sleep sleeps on the worker (asyncio)",
    "streams.plugins.core.storage": "the storage tasks (asyncio, shutil, pathlib)",
    "streams.plugins.core.working_directory": "a WorkingDirectory's folder and cache zip",
    "streams.plugins.namespace.tasks": "namespace.*Files copy files (asyncio, tempfile)",
    "streams.plugins.namespace.working_files": "namespaceFiles fill a task's folder",
    "streams.plugins.registry": "plugin discovery (entry points), run by a TemplatedTask",
    "streams.plugins.scripts.common": "script tasks: processes, folders, environment",
    "streams.plugins.scripts.files": "script tasks' input and output files",
    "streams.plugins.scripts.node": "the Node.js script task (finds node on PATH)",
    "streams.plugins.scripts.process": "script tasks run a child process",
    "streams.plugins.scripts.python": "the Python script task (interpreter, venv)",
    "streams.plugins.scripts.shell": "the shell script task's files",
    "streams.plugins.scripts.venvs": "cached venvs, locked on disk",
}
# Third-party clients that talk to the network: never loaded by importing the core.
IO_CLIENTS = ("faust", "confluent_kafka", "elasticsearch", "boto3", "httpx", "aiohttp")


def _module_file(root: Path, name: str) -> Path | None:
    path = root.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _type_checking_only(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith(
        "TYPE_CHECKING"
    )


def _runtime_imports(root: Path, name: str) -> list[tuple[int, str]]:
    """What loading module `name` may import (function bodies included: they run too),
    `from package import submodule` resolved to the submodule; `if TYPE_CHECKING:` blocks
    are skipped (never executed)."""
    path = _module_file(root, name)
    assert path is not None, name
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    todo: list[ast.AST] = [ast.parse(path.read_text(), str(path))]
    while todo:
        node = todo.pop()
        if _type_checking_only(node):
            continue
        todo.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            found.append((node.lineno, base))
            found += [
                (node.lineno, f"{base}.{alias.name}")
                for alias in node.names
                if _module_file(root, f"{base}.{alias.name}") is not None
            ]
    return found


def reachable(root: Path, starts: Iterable[str], ours: tuple[str, ...] = OURS) -> dict[str, str]:
    """Every module of ours loaded by importing `starts`, with the chain that loads it
    ("c <- b:12 <- a:3": b's line 12 imports c), and every other module each of them
    imports (keyed "ext:<name>@<importer>")."""
    chains: dict[str, str] = {}
    todo = [(name, "") for name in starts]
    while todo:
        name, via = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            module = ".".join(parts[:i])  # a package's __init__ runs before its modules
            if module in chains or _module_file(root, module) is None:
                continue
            chains[module] = module + via
            for line, imported in _runtime_imports(root, module):
                link = f" <- {module}:{line}{via}"
                if _under(imported, ours):
                    todo.append((imported, link))
                else:
                    chains.setdefault(f"ext:{imported}@{module}", imported + link)
    return chains


def _violations(chains: dict[str, str], allowed: dict[str, str]) -> list[str]:
    """The edges of ours loaded, and the impure standard modules imported by a module
    that is not `allowed` to."""
    bad = [chain for name, chain in chains.items() if _under(name, IMPURE_OURS)]
    for name, chain in chains.items():
        imported, _, importer = name.removeprefix("ext:").partition("@")
        if name.startswith("ext:") and _under(imported, IMPURE_STDLIB) and importer not in allowed:
            bad.append(chain)
    return sorted(bad)


def _core_modules() -> list[str]:
    return [
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in _modules("streams/core")
    ]


def test_nothing_the_core_loads_is_impure() -> None:
    chains = reachable(ROOT, _core_modules())
    bad = _violations(chains, WORKER_SIDE)
    assert not bad, "the core loads, transitively:\n" + "\n".join(bad)


def test_the_worker_side_exceptions_are_plugins_and_still_needed() -> None:
    chains = reachable(ROOT, _core_modules())
    for module, why in WORKER_SIDE.items():
        assert module.startswith("streams.plugins."), module
        assert module in chains, f"{module} is no longer loaded by the core: drop it"
        assert why, module
        impure = [
            name for line, name in _runtime_imports(ROOT, module) if _under(name, IMPURE_STDLIB)
        ]
        assert impure, f"{module} imports no I/O any more: drop it from WORKER_SIDE"


def test_a_fresh_interpreter_importing_the_core_loads_no_edge() -> None:
    # What really happens at import (importlib, plugins' own imports), not what the AST says.
    code = (
        "import importlib, json, sys\n"
        f"for name in {_core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    edges = [m for m in loaded if _under(m, IMPURE_OURS) or _under(m, IO_CLIENTS)]
    assert not edges, f"importing streams.core loads {edges}"


def test_the_transitive_checker_sees_a_violation_two_steps_away(tmp_path: Path) -> None:
    # A vacuous checker passes anything: a core module importing a clean module that
    # imports the clock, the storage package and (only for type checking) the log.
    core = tmp_path / "streams" / "core"
    core.mkdir(parents=True)
    (tmp_path / "streams" / "storage").mkdir()
    for package in (tmp_path / "streams", core, tmp_path / "streams" / "storage"):
        (package / "__init__.py").write_text("")
    (core / "decide.py").write_text("from streams.core import helper\n")
    (core / "helper.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    import streams.log\n"
        "def later():\n"
        "    import time\n"
        "    from streams.storage import thing\n"
    )
    chains = reachable(tmp_path, ["streams.core.decide"])
    bad = _violations(chains, {})
    assert "time <- streams.core.helper:5 <- streams.core.decide:1" in bad
    assert "streams.storage <- streams.core.helper:6 <- streams.core.decide:1" in bad
    assert not any("streams.log" in b for b in bad)
    assert _violations(chains, {"streams.core.helper": "worker side"}) == [
        b for b in bad if not b.startswith("time")
    ]


# --- the edges reach the core through its front door --------------------------------------


def _core_front_door() -> set[str]:
    tree = ast.parse((ROOT / "streams" / "core" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return set(ast.literal_eval(node.value))
    raise AssertionError("streams/core/__init__.py has no __all__")


def _through_the_front_door(path: Path, exposed: set[str]) -> list[str]:
    bad: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            bad += [
                f"line {node.lineno}: import {a.name}"
                for a in node.names
                if _under(a.name, ("streams.core",))
            ]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module != "streams.core" and _under(node.module, ("streams.core",)):
                bad.append(f"line {node.lineno}: from {node.module}")
            elif node.module == "streams.core":
                bad += [
                    f"line {node.lineno}: {a.name} is not in streams.core.__all__"
                    for a in node.names
                    if a.name not in exposed
                ]
    return bad


@pytest.mark.parametrize(
    "path", _modules("api") + _modules("projections"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_edges_import_the_core_only_through_its_front_door(path: Path) -> None:
    bad = _through_the_front_door(path, _core_front_door())
    assert not bad, f"{path.relative_to(ROOT)}: {bad}"


def test_the_front_door_exposes_what_it_says(tmp_path: Path) -> None:
    import streams.core

    exposed = _core_front_door()
    assert exposed == set(streams.core.__all__)
    assert all(hasattr(streams.core, name) for name in exposed)
    # ... and the check catches a side entrance and a name the front door does not show.
    sample = tmp_path / "edge.py"
    sample.write_text(
        "from streams.core.walk import Walker\nfrom streams.core import evolve, decide\n"
    )
    assert _through_the_front_door(sample, exposed) == [
        "line 1: from streams.core.walk",
        "line 2: decide is not in streams.core.__all__",
    ]


# --- settings are built once, at the edge ---------------------------------------------------

# Where the process environment may be read: the command line (every process's entry
# point) and the settings' own builder, LannerSettings.from_env, which it calls.
READS_THE_ENVIRONMENT = ("api/cli/", "schemas/settings.py")


def _environment_reads(path: Path) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in ("environ", "environb", "getenv", "putenv")
        ):
            found.append(f"line {node.lineno}: os.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [
                f"line {node.lineno}: from os import {a.name}"
                for a in node.names
                if a.name in ("environ", "environb", "getenv", "putenv")
            ]
    return found


@pytest.mark.parametrize(
    "path",
    [
        p
        for package in ("api", "projections", "streams", "schemas")
        for p in _modules(package)
        if not str(p.relative_to(ROOT)).startswith(READS_THE_ENVIRONMENT)
    ],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_nothing_below_the_entry_points_reads_the_environment(path: Path) -> None:
    found = _environment_reads(path)
    assert not found, f"{path.relative_to(ROOT)} reads the environment ({found}): take it " + (
        "from the LannerSettings the entry point built (settings.environ)"
    )


def test_the_environment_check_sees_a_read(tmp_path: Path) -> None:
    sample = tmp_path / "services.py"
    sample.write_text("import os\nfrom os import getenv\nbucket = os.environ.get('B')\n")
    assert _environment_reads(sample) == ["line 2: from os import getenv", "line 3: os.environ"]
    assert _environment_reads(ROOT / "schemas" / "settings.py")  # the builder does read it


def test_the_settings_carry_the_environment_the_edge_read_and_never_show_it() -> None:
    from schemas.settings import LannerSettings

    env = {"LANNER_TENANT_ID": "acme", "SECRET_TOKEN": "c2VjcmV0", "LANNER_STORAGE_DIR": "/x"}
    settings = LannerSettings.from_env(env)
    assert settings.tenant_id == "acme" and settings.environ == env
    assert settings.for_tenant("other").environ == env
    assert "c2VjcmV0" not in repr(settings) and "c2VjcmV0" not in settings.model_dump_json()
    assert LannerSettings().environ == {}  # built by hand (a test): no environment at all


@pytest.mark.parametrize(
    "module",
    ["api.cli.main", "streams.plugins.registry", "streams.app.run", "api.web.app", "projections"],
)
def test_each_entry_point_imports_alone(module: str) -> None:
    # An import cycle shows only when a module is the first one loaded (the processes'
    # `python -m api.cli.main` did, while the suite, importing in another order, passed).
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
