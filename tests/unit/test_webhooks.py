"""Webhook triggers without a broker: validation of the YAML, and what a request means
(key matching, body parsing, conditions) as api/web/webhook_requests.py decides it."""

from __future__ import annotations

import datetime as dt
from textwrap import dedent

import pytest

from api.web import webhook_requests as hooks
from schemas.flow import Flow
from schemas.triggers import TRIGGER_MODELS
from schemas.triggers.webhook import WebhookTrigger
from streams.core.validation import FlowProblem, ValidatedFlow, validate_flow
from streams.plugins.registry import PluginRegistry

REGISTRY = PluginRegistry.discover()
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
HEAD = """\
id: hooked
namespace: company.team
variables:
  env: prod
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
"""


def _validate(triggers: str) -> list[FlowProblem] | ValidatedFlow:
    return validate_flow(HEAD + dedent(triggers), REGISTRY)


def problems(triggers: str) -> dict[str, str]:
    result = _validate(triggers)
    assert isinstance(result, list), "expected problems, the flow validated"
    return {p.path: p.message for p in result}


def flow_of(triggers: str) -> Flow:
    result = _validate(triggers)
    assert not isinstance(result, list), [str(p) for p in result]
    return result.flow


@pytest.mark.parametrize(
    "name",
    [
        "io.kestra.plugin.core.trigger.Webhook",
        "trigger.Webhook",
        "io.kestra.core.models.triggers.types.Webhook",
    ],
)
def test_every_name_of_the_webhook_trigger_is_known(name: str) -> None:
    assert TRIGGER_MODELS[name] is WebhookTrigger
    flow = flow_of(f"""\
      - id: hook
        type: {name}
        key: s3cret
    """)
    assert [t.key for t in hooks.webhook_triggers(flow)] == ["s3cret"]


def test_a_webhook_without_a_key_is_refused_with_its_line() -> None:
    result = _validate("""\
      - id: hook
        type: io.kestra.plugin.core.trigger.Webhook
    """)
    assert isinstance(result, list)
    (problem,) = [p for p in result if p.path == "triggers[0].key"]
    assert "key" in problem.message and "missing" in problem.message
    assert problem.line == 10


def test_an_empty_long_or_slashed_key_is_refused() -> None:
    long_key = "k" * 257
    found = problems(f"""\
      - id: empty
        type: trigger.Webhook
        key: ""
      - id: long
        type: trigger.Webhook
        key: {long_key}
      - id: slashed
        type: trigger.Webhook
        key: a/b
    """)
    assert "at least 1" in found["triggers[0].key"]
    assert "at most 256" in found["triggers[1].key"]
    assert "'/'" in found["triggers[2].key"]


def test_answer_options_need_wait_and_unknown_properties_are_refused() -> None:
    found = problems("""\
      - id: hook
        type: trigger.Webhook
        key: k
        returnOutputs: true
        responseCode: 201
    """)
    assert "needs wait: true" in found["triggers[0].returnOutputs"]
    assert "needs wait: true and returnOutputs: true" in found["triggers[0].responseCode"]
    typo = problems("""\
      - id: hook
        type: trigger.Webhook
        key: k
        wiat: true
    """)
    assert any("wiat" in path or "wiat" in message for path, message in typo.items())


def test_only_expression_conditions_are_supported_and_checked() -> None:
    found = problems("""\
      - id: hook
        type: trigger.Webhook
        key: "{{ flow.id"
        when: "{{ trigger.body.x == }}"
        conditions:
          - type: io.kestra.plugin.core.condition.MultipleCondition
          - type: io.kestra.plugin.core.condition.DayWeekCondition
          - type: io.kestra.plugin.core.condition.ExpressionCondition
          - type: io.kestra.plugin.core.condition.ExpressionCondition
            expression: "{{ trigger.body.hello == 'world' }}"
    """)
    assert "syntax error" in found["triggers[0].key"]
    assert "syntax error" in found["triggers[0].when"]
    assert "MultipleCondition are not supported" in found["triggers[0].conditions[0].type"]
    assert "ExpressionCondition" in found["triggers[0].conditions[1].type"]
    assert "needs an expression" in found["triggers[0].conditions[2].expression"]
    assert not any(path.startswith("triggers[0].conditions[3]") for path in found)


def test_the_key_may_be_rendered_from_the_flow_and_secrets() -> None:
    flow = flow_of("""\
      - id: by_flow
        type: trigger.Webhook
        key: "{{ flow.id }}-{{ vars.env }}"
      - id: by_secret
        type: trigger.Webhook
        key: "{{ secret('HOOK_KEY') }}"
      - id: broken
        type: trigger.Webhook
        key: "{{ secret('MISSING') }}"
    """)
    secrets = {"HOOK_KEY": " from-a-secret "}
    keys = [
        hooks.rendered_key(t, flow, "main", lambda: secrets, NOW)
        for t in hooks.webhook_triggers(flow)
    ]
    # Rendered keys are trimmed, as Kestra does; one that cannot render opens nothing.
    assert keys == ["hooked-prod", "from-a-secret", None]


def test_the_key_opens_its_trigger_only() -> None:
    flow = flow_of("""\
      - id: first
        type: trigger.Webhook
        key: alpha-key
      - id: second
        type: trigger.Webhook
        key: beta-key
    """)
    triggers = hooks.webhook_triggers(flow)
    asked: list[str] = []

    def expected(trigger: WebhookTrigger) -> str:
        asked.append(trigger.id)
        return trigger.key

    found = hooks.matching_trigger(triggers, "alpha-key", expected)
    assert found is not None and found.id == "first"
    # Every trigger is compared, not only up to the match.
    assert asked == ["first", "second"]
    for wrong in ("alpha-ke", "alpha-keyy", "", "ALPHA-KEY", "beta-key "):
        assert hooks.matching_trigger(triggers, wrong, lambda t: t.key) is None


@pytest.mark.parametrize(
    ("raw", "body"),
    [
        (b"", None),
        (b'{"a": 1, "b": true}', {"a": 1, "b": True}),
        (b'[{"a": 1}]', [{"a": 1}]),
        (b"bla", "bla"),
        # JSON that is neither an object nor an array stays text (Kestra's tryMap/tryArray).
        (b"42", "42"),
        (b'"quoted"', '"quoted"'),
        ("héllo".encode(), "héllo"),
        (b"\xff\xfe\x00", "//4A"),
    ],
)
def test_the_body_is_json_when_it_is_an_object_or_array_else_text(raw: bytes, body: object) -> None:
    assert hooks.parse_body(raw) == body


def test_headers_and_parameters_are_maps_of_lists() -> None:
    assert hooks.multi_map([("age", "12"), ("name", "john"), ("age", "13")]) == {
        "age": ["12", "13"],
        "name": ["john"],
    }


def test_conditions_and_inputs_see_the_request() -> None:
    flow = flow_of("""\
      - id: hook
        type: trigger.Webhook
        key: k
        when: "{{ trigger.parameters.go[0] == 'yes' }}"
        conditions:
          - type: io.kestra.plugin.core.condition.ExpressionCondition
            expression: "{{ trigger.body.hello == 'world' }}"
        inputs:
          greeting: "{{ trigger.body.hello }} from {{ trigger.headers['x-from'][0] }}"
    """)
    (trigger,) = hooks.webhook_triggers(flow)

    def context(body: object, go: str) -> dict[str, object]:
        variables = hooks.trigger_variables(trigger, body, {"x-from": ["ci"]}, {"go": [go]})
        return hooks.request_context(flow, "main", variables, "e1")

    assert hooks.conditions_hold(trigger, context({"hello": "world"}, "yes"), NOW) == (True, None)
    held, why = hooks.conditions_hold(trigger, context({"hello": "moon"}, "yes"), NOW)
    assert not held and why is not None and "hello" in why
    assert not hooks.conditions_hold(trigger, context({"hello": "world"}, "no"), NOW)[0]
    # A condition that cannot render (no body) is not met, as in Kestra: nothing starts.
    assert not hooks.conditions_hold(trigger, context(None, "yes"), NOW)[0]
    assert hooks.render_inputs(trigger, context({"hello": "world"}, "yes"), NOW) == {
        "greeting": "world from ci"
    }


def test_a_secret_marker_in_the_request_is_defanged() -> None:
    flow = flow_of("""\
      - id: hook
        type: trigger.Webhook
        key: k
    """)
    (trigger,) = hooks.webhook_triggers(flow)
    smuggled = '\x00lanner-deferred:secret:"DB_PASSWORD"\x00'
    variables = hooks.trigger_variables(trigger, smuggled, {}, {})
    context = hooks.request_context(flow, "main", variables, "e1")
    assert "lanner-deferred" not in str(context["trigger"])


def test_the_answers_have_kestras_shape() -> None:
    flow = flow_of("""\
      - id: hook
        type: trigger.Webhook
        key: k
    """)
    (trigger,) = hooks.webhook_triggers(flow)
    variables = hooks.trigger_variables(trigger, {"a": 1}, {}, {"q": ["1"]})
    answer = hooks.requested_answer(
        tenant="main",
        execution_id="e1",
        flow=flow,
        variables=variables,
        labels={"team": "x"},
        now=NOW,
    )
    assert answer["id"] == "e1" and answer["state"]["current"] == "CREATED"
    assert answer["trigger"] == {
        "id": "hook",
        "type": "trigger.Webhook",
        "variables": {"body": {"a": 1}, "headers": {}, "parameters": {"q": ["1"]}},
    }
    assert answer["labels"] == [{"key": "team", "value": "x"}]
    assert hooks.outputs_text("plain") == "plain"
    assert hooks.outputs_text({"a": 1}) == '{"a": 1}'
