"""The executor's pure core: no clock, no I/O, no randomness; time and ids come in.

The names below are what the edges (api/, projections/) use of it, and the only way they
reach it: folding a history (evolve), validating a flow, rendering an expression, what a
replay carries over. Everything else in here is the executor's own business.
"""

from streams.core.context import defang
from streams.core.evolve import HistoryError, evolve
from streams.core.expressions import ExpressionError, render, render_bool
from streams.core.messages import as_created
from streams.core.replay_seed import replay_seed
from streams.core.validation import FlowProblem, ValidatedFlow, validate_flow

__all__ = [
    "ExpressionError",
    "FlowProblem",
    "HistoryError",
    "ValidatedFlow",
    "as_created",
    "defang",
    "evolve",
    "render",
    "render_bool",
    "replay_seed",
    "validate_flow",
]
