"""No `extra={...}` key of a log call names a LogRecord attribute: logging raises
KeyError("Attempt to overwrite 'message' in LogRecord") for one, on the path that logs it,
which crashed the executor's agent after a restart (the re-emission path logs)."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESERVED = set(vars(logging.LogRecord("n", 0, "p", 0, "m", (), None))) | {"message", "asctime"}


def _clashes(source: str, name: str) -> list[str]:
    found: list[str] = []
    for node in ast.walk(ast.parse(source, name)):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                found += [
                    f"{name}:{node.lineno}: {key.value}"
                    for key in keyword.value.keys
                    if isinstance(key, ast.Constant) and key.value in RESERVED
                ]
    return found


def test_no_log_extra_overwrites_a_record_attribute() -> None:
    clashes = [
        clash
        for package in ("schemas", "streams", "projections", "api", "bench")
        for path in sorted((ROOT / package).rglob("*.py"))
        for clash in _clashes(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not clashes, clashes


def test_the_check_sees_a_clash() -> None:
    assert _clashes('log.info("x", extra={"message": 1, "input": 2})', "sample") == [
        "sample:1: message"
    ]
