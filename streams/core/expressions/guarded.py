"""Where the render budget is charged: every call, lookup, operator, filter, loop and `~`.

Jinja's sandbox routes calls, attribute lookups and chosen operators through the
environment: BudgetedEnvironment charges those. Filters, `for` loops and `~` are not, so
filters are wrapped here and the template's syntax tree is rewritten before compilation:
each loop's iterable goes through `_lanner_loop` (a step per item) and each `~` through
`_lanner_sized` (its operands checked before they are turned into text, its result after).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jinja2 import nodes
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment

from streams.core.expressions import budget, operators

# str methods that pad: their first argument is the width of the result.
_PADDING = frozenset({"center", "ljust", "rjust", "zfill"})
# A macro call runs a whole template body: measured at ~20 plain steps.
_MACRO_STEPS = 20

LOOP_FILTER = "_lanner_loop"
SIZED_FILTER = "_lanner_sized"
TEXT_FILTER = "_lanner_text"

# Filters that turn a container into text: their input must fit before they start.
_SERIALIZING = frozenset({"json", "toJson", "tojson", "string", "pprint", "urlencode", "xmlattr"})


def _value_index(fn: Callable[..., Any]) -> int:
    # pass_context / pass_environment / pass_eval_context filters get that argument first.
    return 1 if getattr(fn, "jinja_pass_arg", None) is not None else 0


def _precheck(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    value = args[0] if args else None
    rest = args[1:]
    if name in _SERIALIZING:
        budget.check_serializable(value)
    elif name == "center":
        budget.check_width(rest[0] if rest else kwargs.get("width", 80), value)
    elif name == "indent":
        width = rest[0] if rest else kwargs.get("width", 4)
        lines = value.count("\n") + 1 if isinstance(value, str) else 1
        budget.check_width(width, value, lines)
    elif name == "format":
        budget.check_format(value, (rest, kwargs))
    elif name == "replace" and len(rest) >= 2:
        count = rest[2] if len(rest) > 2 and isinstance(rest[2], int) else -1
        budget.check_replace(value, rest[0], rest[1], count)
    elif name == "replace" and rest and isinstance(rest[0], dict):
        for old, new in rest[0].items():
            budget.check_replace(value, old, new)
    elif name == "join":
        budget.check_join(value, rest[0] if rest else kwargs.get("d", kwargs.get("separator", "")))
    elif name in ("batch", "slice"):
        # `[1]|slice(10**9)` makes that many lists; `batch(n, fill)` pads up to n.
        budget.check_width(rest[0] if rest else 0, value)


def guard_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` charged one step, its amplifying arguments checked before, its result after."""
    skip = _value_index(fn)

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget.step()
        _precheck(name, args[skip:], kwargs)
        return budget.check_result(fn(*args, **kwargs))

    return guarded


def _sized(value: Any) -> Any:
    return budget.check_result(value)


def _text_operand(value: Any) -> Any:
    # `~` calls str(): a container becomes its repr, which must fit too.
    budget.check_serializable(value)
    return value


INTERNAL_FILTERS: dict[str, Callable[..., Any]] = {
    LOOP_FILTER: budget.counted,
    SIZED_FILTER: _sized,
    TEXT_FILTER: _text_operand,
}


def _wrap(node: nodes.Node, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def instrument(tree: nodes.Node) -> None:
    """Rewrite `tree` in place so that loops and `~` charge the budget."""
    for loop in list(tree.find_all(nodes.For)):
        loop.iter = _wrap(loop.iter, LOOP_FILTER)
    for concat in list(tree.find_all(nodes.Concat)):
        concat.nodes = [_wrap(operand, TEXT_FILTER) for operand in concat.nodes]
    _wrap_concats(tree)


def _wrap_concats(node: nodes.Node) -> None:
    """Replace every Concat child of every node by `_lanner_sized(Concat)`."""
    for field in node.fields:
        child = getattr(node, field, None)
        if isinstance(child, list):
            child[:] = [_sized_concat(item) for item in child]
        elif isinstance(child, nodes.Node):
            setattr(node, field, _sized_concat(child))


def _sized_concat(item: Any) -> Any:
    """`item` with the Concats under it wrapped; a Concat itself comes back wrapped."""
    if isinstance(item, nodes.Node):
        _wrap_concats(item)
        if isinstance(item, nodes.Concat):
            return _wrap(item, SIZED_FILTER)
    return item


class BudgetedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, with every call, lookup and amplifying operator charged to the render
    budget (streams/core/expressions/budget.py)."""

    intercepted_binops = frozenset({"*", "**", "+", "-", "/", "%"})

    def getattr(self, obj: Any, attribute: str) -> Any:
        budget.step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget.step()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            budget.check_format(getattr(value, "__self__", None), None)
        return wrapped

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget.step()
        operands = operators.pebble_binop(operator, left, right)
        if isinstance(operands, operators.Done):
            return budget.check_result(operands.value)
        left, right = operands
        if operator == "**":
            budget.check_power(left, right)
        elif operator == "*":
            budget.check_repeat(left, right)
        elif operator == "+":
            budget.check_add(left, right)
        elif operator == "%" and isinstance(left, str):
            budget.check_format(left, right)
        return budget.check_result(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget.step(_MACRO_STEPS if isinstance(__obj, Macro) else 1)
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            if name in _PADDING and args:
                budget.check_width(args[0], owner)
            elif name == "expandtabs":
                budget.check_width(args[0] if args else 8, owner, owner.count("\t") + 1)
            elif name == "replace" and len(args) >= 2:
                budget.check_replace(owner, args[0], args[1], args[2] if len(args) > 2 else -1)
            elif name == "join" and args:
                budget.check_join(list(args[0]) if isinstance(args[0], tuple) else args[0], owner)
        result = super().call(__context, __obj, *args, **kwargs)
        return budget.check_result(result)
