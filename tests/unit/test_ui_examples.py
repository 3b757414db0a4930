"""The web UI's onboarding gallery deploys these flows in one click on an empty instance:
each must be valid as the API validates it (the same validate_flow, every plugin)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.core.validation import ValidatedFlow, validate_flow
from streams.plugins.registry import PluginRegistry

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "ui" / "src" / "examples").glob("*.yml"))
REGISTRY = PluginRegistry.discover()


def test_the_gallery_has_its_examples() -> None:
    names = {path.stem for path in EXAMPLES}
    wanted = {"hello_world", "etl_shell_python", "fan_out", "subflow_child", "subflow_parent"}
    assert wanted | {"schedule", "webhook", "kafka"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_flow_is_valid(path: Path) -> None:
    checked = validate_flow(path.read_text(), REGISTRY)
    assert isinstance(checked, ValidatedFlow), f"{path.name}: {checked}"
    assert checked.flow.namespace == "examples"
