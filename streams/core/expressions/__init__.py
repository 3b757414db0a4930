"""The expression engine: Jinja with Kestra's Pebble syntax, filters and functions.

    render(value, context, now=...)       -> value with every template rendered
    render_bool(value, context, now=...)  -> Kestra truthiness of the rendered value
    syntax_errors(text)                   -> parse-only check, [] when fine
    ExpressionError                       -> .expression and .message
    RenderLimits, BudgetExceeded          -> the render budget (budget.py) and its error
    analyse(text)                         -> the lookups a template calls, the names it reads

Callers provide `inputs`, `outputs`, `vars`, `execution`, `flow`, `task`, `taskrun`,
`parent`, `parents`, `labels`, `trigger`, plus private `_secrets`, `_kv`, `_files` and
`_error_logs` for `secret()`, `kv()`, `read()` and `errorLogs()`. The current time is the
`now` argument, never the clock.
"""

from streams.core.expressions.budget import Budget, BudgetExceeded, RenderLimits
from streams.core.expressions.engine import (
    Analysis,
    analyse,
    render,
    render_bool,
    syntax_errors,
    truthy,
)
from streams.core.expressions.errors import ExpressionError

__all__ = [
    "Analysis",
    "Budget",
    "BudgetExceeded",
    "ExpressionError",
    "RenderLimits",
    "analyse",
    "render",
    "render_bool",
    "syntax_errors",
    "truthy",
]
