"""What a Webhook trigger's model cannot say alone: a key usable as one path segment,
expressions that compile, conditions this trigger evaluates. Pure; registered with
streams/core/trigger_checks.py (errors with their line)."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel

from schemas.triggers.webhook import EXPRESSION_CONDITION_TYPES, WebhookTrigger
from streams.core.expressions import syntax_errors
from streams.core.trigger_checks import Problem, checks


def _expression_problems(field: str, text: str) -> Iterator[Problem]:
    for message in syntax_errors(text):
        yield (
            field,
            (
                f"expression {message}"
                if message.startswith("syntax error")
                else f"expression syntax error: {message}"
            ),
        )


@checks(WebhookTrigger)
def _webhook(trigger: BaseModel) -> Iterator[Problem]:
    assert isinstance(trigger, WebhookTrigger)
    if "{{" in trigger.key or "{%" in trigger.key:
        yield from _expression_problems("key", trigger.key)
    elif "/" in trigger.key or trigger.key != trigger.key.strip():
        # The key is one path segment of the URL, compared as sent.
        yield "key", "a webhook key cannot contain '/' nor start or end with spaces"
    if trigger.returnOutputs and not trigger.wait:
        yield "returnOutputs", "returnOutputs needs wait: true (no outputs before the end)"
    for name in ("responseContentType", "responseCode"):
        if getattr(trigger, name) is not None and not (trigger.wait and trigger.returnOutputs):
            yield name, f"{name} needs wait: true and returnOutputs: true"
    if trigger.when is not None:
        yield from _expression_problems("when", trigger.when)
    for index, condition in enumerate(trigger.conditions):
        path = f"conditions[{index}]"
        kind = condition.get("type")
        if not isinstance(kind, str):
            yield f"{path}.type", "a condition needs a type"
        elif kind.rsplit(".", 1)[-1] == "MultipleCondition":
            yield (
                f"{path}.type",
                ("conditions of type MultipleCondition are not supported on a webhook"),
            )
        elif kind not in EXPRESSION_CONDITION_TYPES:
            yield (
                f"{path}.type",
                (
                    f"condition type {kind!r} is not supported on a webhook; use "
                    "io.kestra.plugin.core.condition.ExpressionCondition"
                ),
            )
        else:
            expression = condition.get("expression")
            if not isinstance(expression, str) or not expression.strip():
                yield f"{path}.expression", "an ExpressionCondition needs an expression"
            else:
                yield from _expression_problems(f"{path}.expression", expression)
            extra = sorted(set(condition) - {"type", "expression"})
            if extra:
                yield path, f"unknown propert{'ies' if len(extra) > 1 else 'y'} {', '.join(extra)}"
