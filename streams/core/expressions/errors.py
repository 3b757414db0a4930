"""The one error type the expression engine raises."""

from __future__ import annotations

# Long expressions (a whole rendered task, say) are cut in messages so logs stay readable.
_SHOWN = 200


class ExpressionError(Exception):
    """An expression failed to parse or to render.

    `expression` is the source text that failed, `message` says why; `str()` gives both.
    Secret values never appear here: only names do.
    """

    def __init__(self, expression: str, message: str) -> None:
        super().__init__(expression, message)
        self.expression = expression
        self.message = message

    def __str__(self) -> str:
        if not self.expression:
            return self.message
        shown = self.expression
        if len(shown) > _SHOWN:
            shown = shown[: _SHOWN - 3] + "..."
        return f"{self.message} (in expression {shown!r})"
