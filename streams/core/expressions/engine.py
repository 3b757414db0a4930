"""Render values with Jinja (sandboxed, strict), after translating Pebble syntax.

Rendering is a pure function of (value, context, now): no clock, I/O or randomness (Jinja's
`random` filter and `lipsum` global are removed). Compiled templates are cached by source
text because the executor renders on its hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from types import GeneratorType
from typing import Any

from jinja2 import Template, TemplateError, Undefined, UndefinedError, nodes
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.parser import Parser

from streams.core.expressions import budget, functions_extra, guarded, pebble
from streams.core.expressions.budget import Budget, BudgetExceeded, RenderLimits
from streams.core.expressions.errors import ExpressionError
from streams.core.expressions.filters import FILTERS, TESTS
from streams.core.expressions.functions import FUNCTIONS, NOW_KEY
from streams.core.expressions.undefined import ChainableUndefined, MissingValue, describe_missing
from streams.core.expressions.values import to_text

CACHE_SIZE = 4096
DEFAULT_LIMITS = RenderLimits()
# Kestra's falsy texts (TruthUtils), compared case-insensitively after trimming.
_FALSE_TEXT = frozenset({"", "false", "0", "-0"})


class _Environment(guarded.BudgetedEnvironment):
    def getattr(self, obj: Any, attribute: str) -> Any:
        # Like Pebble, `map.key` means the key first: outputs named `items` or `values`
        # must not resolve to dict methods.
        if isinstance(obj, Mapping):
            budget.step()
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        # `block[missing].child ?? x`: an undefined key makes the lookup undefined (and
        # stays the one reported if used), as Pebble's AttributeNotFoundException.
        if isinstance(argument, Undefined):
            budget.step()
            return argument
        return super().getitem(obj, argument)


def _environment() -> _Environment:
    env = _Environment(
        undefined=ChainableUndefined,
        autoescape=False,
        finalize=to_text,
        keep_trailing_newline=True,  # YAML block scalars end with a newline that must stay
        auto_reload=False,
        cache_size=0,
        # Jinja's optimizer folds constant expressions at compile time, outside any
        # budget: `'a'|center(400000000)` would be computed while validating the flow.
        optimized=False,
    )
    env.filters.pop("random", None)
    env.globals.pop("lipsum", None)
    env.filters.update(FILTERS)
    env.filters = {name: guarded.guard_filter(name, fn) for name, fn in env.filters.items()}
    env.filters.update(guarded.INTERNAL_FILTERS)
    env.tests.update(TESTS)
    env.globals.update(FUNCTIONS)
    return env


_ENV = _environment()


@dataclass(frozen=True, slots=True)
class _Compiled:
    expression: TemplateExpression | None  # a whole `{{ expr }}`: evaluated to a native value
    template: Template | None  # anything else: rendered to text
    # A native result built from list/dict literals may hold undefined values inside.
    check_inside: bool
    error: str | None


def _check_names(ast: nodes.Template) -> None:
    # The caller passes secrets and files under `_` keys for the functions to read;
    # templates must go through secret()/read() instead of dumping the raw mappings.
    for name in ast.find_all(nodes.Name):
        if name.ctx == "load" and name.name.startswith("_") and name.name != "_":
            raise ExpressionError("", f"names starting with '_' are reserved: {name.name!r}")


def _compile_expression(source: str) -> TemplateExpression:
    """Jinja's compile_expression, with the budget's instrumentation in the tree."""
    parser = Parser(_ENV, source, state="variable")
    expr = parser.parse_expression()
    if not parser.stream.eos:
        raise TemplateSyntaxError("chunk after expression", parser.stream.current.lineno)
    body = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr, lineno=1)], lineno=1)
    guarded.instrument(body)
    body.set_environment(_ENV)
    return TemplateExpression(_ENV.from_string(body), False)


@lru_cache(maxsize=CACHE_SIZE)
def _compile(source: str) -> _Compiled:
    try:
        translated = pebble.translate(source)
        ast = _ENV.parse(translated)
        _check_names(ast)
        native = pebble.whole_expression(source)
        if native is not None:
            literal = next(ast.find_all((nodes.List, nodes.Dict, nodes.Tuple)), None)
            expression = _compile_expression(native)
            return _Compiled(expression, None, literal is not None, None)
        guarded.instrument(ast)
        return _Compiled(None, _ENV.from_string(ast), False, None)
    except TemplateSyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno and "\n" in source else ""
        return _Compiled(None, None, False, f"syntax error: {exc.message}{where}")
    except ExpressionError as exc:
        return _Compiled(None, None, False, exc.message)


def _ensure_defined(value: Any) -> None:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    elif isinstance(value, list | tuple):
        for item in value:
            _ensure_defined(item)
    elif isinstance(value, dict):
        for item in value.values():
            _ensure_defined(item)


def _native(result: Any, check_inside: bool) -> Any:
    if isinstance(result, Undefined):
        result._fail_with_undefined_error()
    if isinstance(result, GeneratorType | range):
        result = list(result)  # `map`/`select` filters are lazy; callers want data
    if check_inside:
        _ensure_defined(result)
    return result


def _text(template: Template, variables: dict[str, Any]) -> str:
    """The template's text, streamed, so that its size is counted as it grows."""
    account = budget.current()
    pieces: list[str] = []
    for piece in template.generate(variables):
        if account is not None:
            account.output(len(piece))
        pieces.append(piece)
    return "".join(pieces)


def _evaluate(source: str, context: Mapping[str, Any], now: datetime, as_text: bool) -> Any:
    compiled = _compile(source)
    if compiled.error is not None:
        raise ExpressionError(source, compiled.error)
    variables = dict(context)
    variables[NOW_KEY] = now
    try:
        if compiled.expression is not None:
            result = _native(compiled.expression(variables), compiled.check_inside)
            account = budget.current()
            if account is not None:
                account.output(account.deep_size(result))
            return to_text(result) if as_text else result
        assert compiled.template is not None
        return _text(compiled.template, variables)
    except BudgetExceeded as exc:
        raise BudgetExceeded(source, exc.message) from None
    except RecursionError:
        raise ExpressionError(source, "too deeply nested (recursion)") from None
    except ExpressionError as exc:
        raise ExpressionError(source, exc.message) from exc
    except MissingValue as exc:
        raise ExpressionError(source, describe_missing(exc, context)) from exc
    except UndefinedError as exc:
        raise ExpressionError(source, exc.message or "undefined value") from exc
    except SecurityError as exc:
        raise ExpressionError(source, f"not allowed: {exc}") from exc
    except TemplateError as exc:
        raise ExpressionError(source, str(exc)) from exc
    except Exception as exc:  # a filter or operator failing on the data (TypeError, ...)
        raise ExpressionError(source, f"{type(exc).__name__}: {exc}") from exc


# Functions whose data only a worker holds (secrets, KV values, files): see
# streams/core/deferred.py. fileSize() computes on a file, so its call is always acted on.
_LOOKUPS = frozenset({"secret", "kv", "read", "fileSize"})
_COMPUTED = frozenset({"fileSize"})
# Functions drawing from the execution and task run ids (functions_extra): a deferred
# template that calls them needs those variables too.
_DRAWING = frozenset({"uuid", "id", "randomInt", "encrypt"})


@dataclass(frozen=True, slots=True)
class Analysis:
    lookups: frozenset[str]  # which of secret()/kv()/read() the template calls
    names: frozenset[str]  # the variables it reads from the context
    # Whether some lookup's value is acted on (a filter, operator, method, test...) rather
    # than only printed as is (`Bearer {{ secret('X') }}`).
    acted_on: bool = False
    # Variables read other than printed as is, bare (`{{ workingDir }}`) or one constant key
    # deep (`{{ outputFiles.out }}`, `{{ outputFiles['a.csv'] }}`); and those printed bare.
    acted_names: frozenset[str] = frozenset()
    bare_names: frozenset[str] = frozenset()


@lru_cache(maxsize=CACHE_SIZE)
def analyse(text: str) -> Analysis:
    """What a template calls and reads, without rendering it (empty when it does not parse)."""
    if not _has_template(text):
        return Analysis(frozenset(), frozenset())
    try:
        ast = _ENV.parse(pebble.translate(text))
    except (TemplateSyntaxError, ExpressionError):
        return Analysis(frozenset(), frozenset())
    calls = [
        call
        for call in ast.find_all(nodes.Call)
        if isinstance(call.node, nodes.Name) and call.node.name in _LOOKUPS
    ]
    printed = {id(node) for output in ast.find_all(nodes.Output) for node in output.nodes}
    names = frozenset(
        n.name for n in ast.find_all(nodes.Name) if n.ctx == "load" and n.name not in _ENV.globals
    )
    called = {n.name for n in ast.find_all(nodes.Name) if n.name in _DRAWING}
    if called:
        names |= {"execution", "taskrun"}
    lookups = frozenset(call.node.name for call in calls if isinstance(call.node, nodes.Name))
    acted_on = any(id(call) not in printed for call in calls) or bool(lookups & _COMPUTED)
    bare, keyed = _printed_names(ast)
    acted_names = frozenset(
        n.name
        for n in ast.find_all(nodes.Name)
        if n.ctx == "load" and id(n) not in bare and id(n) not in keyed
    )
    bare_names = frozenset(n.name for n in ast.find_all(nodes.Name) if id(n) in bare)
    return Analysis(lookups, names, acted_on, acted_names, bare_names)


def _printed_names(ast: nodes.Template) -> tuple[set[int], set[int]]:
    """Ids of the Name nodes printed as is: bare, and one constant key deep."""
    bare: set[int] = set()
    keyed: set[int] = set()
    for output in ast.find_all(nodes.Output):
        for node in output.nodes:
            if isinstance(node, nodes.Name):
                bare.add(id(node))
                continue
            base = node.node if isinstance(node, nodes.Getattr | nodes.Getitem) else None
            if isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Const):
                base = None  # `{{ outputFiles[name] }}`: the key is computed
            if isinstance(base, nodes.Name):
                keyed.add(id(base))
    return bare, keyed


def _has_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def _render(value: Any, context: Mapping[str, Any], now: datetime) -> Any:
    if isinstance(value, str):
        return _evaluate(value, context, now, False) if _has_template(value) else value
    if isinstance(value, Mapping):
        return {
            (
                _evaluate(k, context, now, True) if isinstance(k, str) and _has_template(k) else k
            ): _render(v, context, now)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_render(v, context, now) for v in value]
    if isinstance(value, tuple):
        return tuple(_render(v, context, now) for v in value)
    return value


def _aware(now: datetime) -> datetime:
    if not isinstance(now, datetime):
        raise TypeError(f"now must be a datetime, got {type(now).__name__}")
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def render(
    value: Any,
    context: Mapping[str, Any],
    *,
    now: datetime,
    limits: RenderLimits = DEFAULT_LIMITS,
    account: Budget | None = None,
) -> Any:
    """Render every string inside `value` (dicts, lists and tuples are walked).

    A string without `{{`/`{%` is returned as is. A string that is exactly one
    `{{ expr }}` gives the expression's native value (list, int, dict...); any other
    template renders to text. Raises ExpressionError on syntax errors, undefined
    variables (outside `default`/`??`) and failing filters, and BudgetExceeded (an
    ExpressionError naming the limit) when the render passes `limits`; all of `value`
    shares one budget, and `account` (a budget.Budget) shares one between renders.
    """
    token = budget.start(limits, account)
    draws = functions_extra.start_draws()
    try:
        return _render(value, context, _aware(now))
    finally:
        functions_extra.finish_draws(draws)
        budget.finish(token)


def render_nested(value: Any, context: Mapping[str, Any], now: datetime) -> Any:
    """For render()/renderOnce() inside a template: the same budget and draws."""
    return _render(value, context, now)


def truthy(value: Any) -> bool:
    """Kestra's truthiness: false, 0, -0, "" and null are false; text is trimmed first."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_TEXT
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        return len(value) > 0
    return True


def render_bool(
    value: Any,
    context: Mapping[str, Any],
    *,
    now: datetime,
    limits: RenderLimits = DEFAULT_LIMITS,
    account: Budget | None = None,
) -> bool:
    """Render a condition (`runIf`, `If.condition`, `Fail.condition`) to a boolean."""
    return truthy(render(value, context, now=now, limits=limits, account=account))


def syntax_errors(text: str) -> list[str]:
    """Problems found by compiling `text` without evaluating it; empty when fine."""
    if not _has_template(text):
        return []
    error = _compile(text).error
    return [] if error is None else [error]


# For tests and diagnostics: how well the template cache is doing.
cache_info: Callable[[], Any] = _compile.cache_info
