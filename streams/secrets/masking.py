"""Masking: every secret value a worker knows is replaced by `******` in what it emits."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

MASK = "******"
# A secret shorter than this would mask ordinary text everywhere ("a", "1"...); such
# values are still usable, they are just not masked (Kestra has the same trade-off).
_MIN_MASKED = 3


class Masker:
    """Replaces every secret value (and its JSON-escaped form) by `******`."""

    def __init__(self, values: list[str]) -> None:
        forms: set[str] = set()
        for value in values:
            if len(value) < _MIN_MASKED:
                continue
            forms.add(value)
            forms.add(json.dumps(value)[1:-1])  # as it appears inside a JSON text
        # Longest first, so a secret containing another is masked whole.
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(f) for f in ordered)) if ordered else None

    def text(self, value: str) -> str:
        return value if self._pattern is None else self._pattern.sub(MASK, value)

    def value(self, value: Any) -> Any:
        """Mask every string inside a JSON-like value (keys too)."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value
