"""The conformance data (bench/kestra_cases.jsonl) and the comparison the runner makes."""

from __future__ import annotations

from pathlib import Path

from bench.kestra_cases import Case, compare, load_cases

CASES = Path(__file__).resolve().parents[2] / "bench" / "kestra_cases.jsonl"


def test_every_case_loads_names_its_java_test_and_asserts_or_says_why_not() -> None:
    cases = load_cases(CASES)
    assert len(cases) > 300
    flows = {case.flow for case in cases}
    for case in cases:
        assert case.test, case.flow
        assert case.asserts_something or case.skip, case.name
        assert {step.do for step in case.steps} <= {"resume", "restart", "kill"}, case.name
        assert case.via is None or case.via in flows, case.name
        assert not (case.skip and case.differs), case.name


def _execution(state: str, **runs: tuple[str, dict[str, object], int]) -> dict[str, object]:
    return {
        "state": {"current": state},
        "outputs": {"key": "v"},
        "taskRunList": [
            {
                "taskId": task_id,
                "value": None,
                "state": {"current": run_state},
                "outputs": outputs,
                "attempts": [{}] * attempts,
            }
            for task_id, (run_state, outputs, attempts) in runs.items()
        ],
    }


def test_compare_names_each_difference_and_accepts_text_for_numbers() -> None:
    case = Case(
        flow="f.yaml",
        test="T.t",
        state="SUCCESS",
        task_runs=2,
        tasks={"a": "SUCCESS"},
        attempts={"a": 2},
        outputs={"a": {"value": "2", "data": {"n": "1"}}, "$flow": {"key": "v"}},
    )
    same = _execution(
        "SUCCESS", a=("SUCCESS", {"value": 2, "data": {"n": 1}}, 2), b=("SUCCESS", {}, 1)
    )
    assert compare(case, same) == []
    other = _execution("FAILED", a=("FAILED", {"value": 3}, 1))
    misses = compare(case, other)
    assert "state FAILED (Kestra: SUCCESS)" in misses
    assert any(m.startswith("1 task runs (Kestra: 2)") for m in misses)
    assert "task a: FAILED (Kestra: SUCCESS)" in misses
    assert "task a: 1 attempts (Kestra: 2)" in misses
    assert "output a.value = 3 (Kestra: '2')" in misses
    assert "output a.data missing (Kestra: {'n': '1'})" in misses
