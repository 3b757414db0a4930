"""Issue 16, finding 7: filters on secret() act on the secret, not on its placeholder.

The executor holds no secrets. It used to render `{{ secret('X') | upper }}` with a
placeholder and let `upper` act on the placeholder's text; now a template that calls
secret()/kv()/read() is sent whole to the worker, which renders it with the real value,
and whatever the template made of the secret is masked like the secret itself.
"""

from __future__ import annotations

from typing import Any

import pytest

from schemas.worker import WorkerJob
from streams.core.context import DEFERRED_OPEN
from streams.core.expressions import RenderLimits
from streams.deferred_lookups import DeferredError, make_resolver, resolve_deferred
from streams.secrets.masking import MASK, Masker
from tests.unit.core.driver import Sim
from tests.unit.core.helpers import flow

SECRET = "s3cr3t-value"


def _job_of(body: str, inputs: dict[str, Any] | None = None) -> WorkerJob:
    sim = Sim(flow(body), hold={"t"})
    sim.start("f", inputs)
    [job] = [j for j in sim.jobs if j.task_id == "t"]
    return job


def _worker_resolves(job: WorkerJob, kv: dict[str, Any] | None = None) -> tuple[Any, list[str]]:
    derived: list[str] = []
    store = kv or {}
    resolver = make_resolver(
        {"X": SECRET},
        None,
        lambda key: (key in store, store.get(key)),
        "kestra://main/company.team/",
        derived,
    )
    return resolve_deferred(job.task, resolver), derived


def test_a_filter_on_a_secret_acts_on_the_secret_and_its_result_is_masked() -> None:
    job = _job_of(
        """
        tasks:
          - id: t
            type: io.kestra.plugin.core.log.Log
            message: "{{ secret('X') | upper }}"
        """
    )
    # The executor sent the template (as a marker), not a rendered placeholder.
    assert DEFERRED_OPEN in job.task["message"]
    assert "LANNER-DEFERRED" not in job.task["message"]
    resolved, derived = _worker_resolves(job)
    assert resolved["message"] == SECRET.upper()
    assert derived == [SECRET.upper()]
    assert Masker(derived).text(f"log: {SECRET.upper()}") == f"log: {MASK}"


def test_a_deferred_template_keeps_the_variables_it_reads() -> None:
    job = _job_of(
        """
        inputs:
          - id: user
            type: STRING
        tasks:
          - id: t
            type: io.kestra.plugin.core.log.Log
            message: "{{ inputs.user }}:{{ secret('X') | replace('-', '_') }}:{{ kv('k') }}"
        """,
        {"user": "ada"},
    )
    resolved, _ = _worker_resolves(job, {"k": "kv-value"})
    assert resolved["message"] == f"ada:{SECRET.replace('-', '_')}:kv-value"


def test_templates_without_lookups_still_render_in_the_executor() -> None:
    sim = Sim(
        flow(
            """
            tasks:
              - id: t
                type: io.kestra.plugin.core.log.Log
                message: "{{ 'plain' | upper }}"
            """
        )
    )
    sim.start("f")
    assert sim.jobs == []  # an inline task that needs no secret runs in the executor
    assert sim.state().state.value == "SUCCESS"


def test_a_secret_printed_as_is_keeps_the_text_around_it_unmasked() -> None:
    job = _job_of(
        """
        tasks:
          - id: t
            type: io.kestra.plugin.core.log.Log
            message: "Bearer {{ secret('X') }}"
        """
    )
    resolved, derived = _worker_resolves(job)
    assert resolved["message"] == f"Bearer {SECRET}"
    assert derived == []  # only the secret itself is masked: "Bearer ******"


def test_a_condition_the_executor_decides_cannot_use_a_secret_and_says_so() -> None:
    # It used to compare the placeholder (always truthy, never equal): silently wrong.
    sim = Sim(
        flow(
            """
            tasks:
              - id: t
                type: io.kestra.plugin.core.log.Log
                message: hi
                runIf: "{{ secret('X') == 'open' }}"
            """
        )
    )
    sim.start("f")
    run = sim.run_of("t")
    assert run.state.value == "FAILED"
    assert run.error is not None and "runIf calls secret()" in run.error


def test_a_deferred_render_on_the_worker_keeps_to_the_render_limits_it_is_given() -> None:
    # The worker renders a deferred template within the settings' limits (WorkerEdges
    # gets them from LannerSettings.limits), not the defaults.
    job = _job_of(
        """
        tasks:
          - id: t
            type: io.kestra.plugin.core.log.Log
            message: "{% for i in range(3000) %}{% endfor %}{{ secret('X') | upper }}"
        """
    )
    assert _worker_resolves(job)[0]["message"] == SECRET.upper()  # fine under the defaults
    few = make_resolver(
        {"X": SECRET}, None, None, "kestra://main/company.team/", None, RenderLimits(steps=1000)
    )
    with pytest.raises(DeferredError, match="LANNER_LIMITS_RENDER_STEPS=1000"):
        resolve_deferred(job.task, few)
