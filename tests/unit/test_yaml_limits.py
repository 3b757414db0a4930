"""What a flow's YAML may cost: source size, aliases, depth and expanded nodes."""

from __future__ import annotations

import json
import time
import tracemalloc
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.cli import flow
from schemas.settings import Limits
from streams.core.validation import ValidatedFlow, validate_flow
from streams.core.yaml_loader import YamlLimitExceeded, load_yaml
from streams.plugins.registry import PluginRegistry

HEAD = """\
id: bomb
namespace: company.team
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
variables:
"""


def alias_bomb(levels: int = 10, width: int = 9) -> str:
    """`a0: &a0 [x,x,...]`, then each level nine aliases of the one before: 9**10 leaves."""
    lines = [f"  a0: &a0 [{','.join(['x'] * width)}]"]
    lines += [f"  a{i}: &a{i} [{','.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return HEAD + "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def registry() -> PluginRegistry:
    return PluginRegistry.discover()


def test_the_alias_bomb_is_refused_at_once_naming_the_limit_and_line(
    registry: PluginRegistry,
) -> None:
    source = alias_bomb()
    assert len(source.encode()) < 700
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = validate_flow(source, registry, Limits())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    assert isinstance(result, list) and len(result) == 1
    problem = result[0]
    assert "yaml_nodes" in problem.message and "LANNER_LIMITS_YAML_NODES" in problem.message
    # a0 is 10 nodes, a1 91, ... a5 is the first past 100,000 (597,871): line 7 + 6.
    assert problem.line == 13
    assert elapsed < 2.0 and peak < 20 * 1024 * 1024, (elapsed, peak)


def test_the_node_limit_counts_aliases_in_full(registry: PluginRegistry) -> None:
    # Three levels: a0 is 10 nodes, a1 91, a2 820: under the default, a2 over 500.
    source = alias_bomb(levels=3)
    assert isinstance(validate_flow(source, registry, Limits()), ValidatedFlow)
    refused = validate_flow(source, registry, Limits(yaml_nodes=500))
    assert isinstance(refused, list)
    assert "more than 500 nodes" in refused[0].message and refused[0].line == 10


def test_alias_uses_are_counted(registry: PluginRegistry) -> None:
    anchors = "  base: &base {a: 1}\n" + "".join(f"  v{i}: *base\n" for i in range(5))
    source = HEAD + anchors
    assert isinstance(validate_flow(source, registry, Limits(yaml_aliases=5)), ValidatedFlow)
    refused = validate_flow(source, registry, Limits(yaml_aliases=4))
    assert isinstance(refused, list)
    assert "more than 4 aliases" in refused[0].message and "yaml_aliases" in refused[0].message
    # the fifth use, on the last line of the source
    assert refused[0].line == source.count("\n")


def test_a_node_that_contains_itself_is_refused(registry: PluginRegistry) -> None:
    refused = validate_flow(HEAD + "  loop: &loop [1, *loop]\n", registry, Limits())
    assert isinstance(refused, list)
    assert "expands without end" in refused[0].message and refused[0].line == 8


def test_deep_nesting_is_refused_before_the_recursion_limit(registry: PluginRegistry) -> None:
    # 600 levels made the composer raise RecursionError (a 500 in the API).
    source = HEAD + "  deep: " + "[" * 600 + "]" * 600 + "\n"
    refused = validate_flow(source, registry, Limits())
    assert isinstance(refused, list)
    assert "nests more than 100 levels" in refused[0].message and refused[0].line == 8
    shallow = HEAD + "  deep: " + "[" * 50 + "]" * 50 + "\n"
    assert isinstance(validate_flow(shallow, registry, Limits()), ValidatedFlow)


def test_the_source_size_is_limited_with_the_line_it_falls_on(registry: PluginRegistry) -> None:
    filler = "".join(f"  v{i}: {'x' * 60}\n" for i in range(40))
    source = HEAD + filler
    assert isinstance(validate_flow(source, registry, Limits()), ValidatedFlow)
    refused = validate_flow(source, registry, Limits(flow_source_bytes=1024))
    assert isinstance(refused, list) and len(refused) == 1
    message = refused[0].message
    assert "flow_source_bytes" in message and f"{len(source)} bytes" in message
    assert refused[0].line == source.encode()[:1024].count(b"\n") + 1


def test_load_yaml_refuses_too(registry: PluginRegistry) -> None:
    with pytest.raises(YamlLimitExceeded) as caught:
        load_yaml(alias_bomb(), Limits())
    assert caught.value.limit == "yaml_nodes"
    assert load_yaml("a: &a [1]\nb: *a\n", Limits()) == {"a": [1], "b": [1]}


def test_ordinary_anchors_and_merge_keys_still_work(registry: PluginRegistry) -> None:
    source = HEAD + "  defaults: &d {retries: 1, level: INFO}\n  job:\n    <<: *d\n    extra: 2\n"
    result = validate_flow(source, registry, Limits())
    assert isinstance(result, ValidatedFlow)
    assert result.flow.variables["job"] == {"retries": 1, "level": "INFO", "extra": 2}


def test_limits_are_settable_from_the_environment() -> None:
    limits = Limits.from_env({"LANNER_LIMITS_YAML_ALIASES": "7", "LANNER_LIMITS_YAML_DEPTH": "30"})
    assert limits.yaml_aliases == 7 and limits.yaml_depth == 30
    with pytest.raises(ValueError):
        Limits.from_env({"LANNER_LIMITS_YAML_DEPTH": "1000"})


def test_the_cli_refuses_the_bomb_with_the_limits_of_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = typer.Typer()
    root.add_typer(flow.app, name="flow")
    bomb = tmp_path / "bomb.yml"
    bomb.write_text(alias_bomb(), encoding="utf-8")
    started = time.monotonic()
    result = CliRunner().invoke(root, ["flow", "validate", "-o", "json", str(bomb)])
    assert time.monotonic() - started < 5
    assert result.exit_code == 1, result.output
    [problem] = json.loads(result.output)[0]["problems"]
    assert problem["line"] == 13 and "yaml_nodes" in problem["message"]
    # `flow test` validates first, with the same limits, and exits 2 before starting anything.
    result = CliRunner().invoke(root, ["flow", "test", str(bomb)])
    assert result.exit_code == 2 and "yaml_nodes" in result.output
    monkeypatch.setenv("LANNER_LIMITS_YAML_ALIASES", "3")
    small = tmp_path / "small.yml"
    small.write_text(alias_bomb(levels=2), encoding="utf-8")
    result = CliRunner().invoke(root, ["flow", "validate", "-o", "json", str(small)])
    assert result.exit_code == 1 and "yaml_aliases" in result.output
