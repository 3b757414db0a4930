"""Suggestions for a type name that is not known (a task, trigger or task runner type).

Kestra's names are long and share their prefix (`io.kestra.plugin.`), so comparing whole
strings makes every name look close to every other: `io.kestra.plugin.jdbc.postgresql.Query`
was once offered `io.kestra.plugin.core.kv.Set`. A name is compared by its meaningful
parts instead: the last segment (the class, `Query`) and the plugin group just before it
(`postgresql`). A suggestion needs both to be close;
when nothing is, there is no suggestion at all. Pure: no I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

_CURRENT_KESTRA = "io.kestra.plugin."

# Thresholds measured on typical mistakes (see tests/unit/test_type_names.py):
# a typo in the class (`Logg`, `Paralel`, `Command`) with the same group, the class
# right but an old or short group (`io.kestra.core.tasks.log.Log`), and the cases that
# must stay silent (another plugin's `Query` or `Trigger`, `scripts.node.Commands`).
_LAST_CLOSE = 0.8
_GROUP_CLOSE = 0.7
_GROUP_CLOSE_SAME_LAST = 0.65
_WINDOW = 0.15


@dataclass(frozen=True)
class _Parts:
    group: str
    last: str


def _parts(type_name: str) -> _Parts:
    """The class and the innermost plugin group: `io.kestra.plugin.scripts.node.Commands`
    is (`node`, `commands`). The outer groups are left out on purpose: `scripts.node` and
    `scripts.shell` share most of their letters, yet node's Commands is not shell's."""
    head, _, last = type_name.rpartition(".")
    return _Parts(head.rsplit(".", 1)[-1].lower(), last.lower())


def _ratio(a: str, b: str) -> float:
    if a == b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b).ratio()


def _score(wanted: _Parts, known: _Parts) -> float | None:
    """How close two names are (higher is closer), or None when they are not close."""
    last = _ratio(wanted.last, known.last)
    group = _ratio(wanted.group, known.group)
    if last == 1.0 and group >= _GROUP_CLOSE_SAME_LAST:
        return 1.0 + group
    if last >= _LAST_CLOSE and group >= _GROUP_CLOSE:
        return last + group
    return None


def _preferred(names: list[str], full: bool) -> str:
    """The name to show for one type: Kestra's current name for a user who wrote a full
    name, the short one for a user who wrote a short one; else any, stably."""

    def rank(name: str) -> tuple[bool, bool, str]:
        return (name.startswith("io.") != full, not name.startswith(_CURRENT_KESTRA), name)

    return min(names, key=rank)


def closest_type_names(type_name: str, known: Mapping[str, Hashable], count: int = 2) -> list[str]:
    """The known types close to `type_name`, closest first, one name each; [] when none is.

    `known` maps every accepted name to the type it stands for (a plugin class, a trigger
    model), so a type with several names (`log.Log`, `io.kestra.plugin.core.log.Log`,
    `io.kestra.core.tasks.log.Log`) is offered once, by the name in the style the user
    wrote."""
    wanted = _parts(type_name)
    full = type_name.startswith("io.")
    best: dict[Hashable, float] = {}
    names: dict[Hashable, list[str]] = {}
    for name, target in known.items():
        names.setdefault(target, []).append(name)
        score = _score(wanted, _parts(name))
        if score is not None and name != type_name:
            best[target] = max(score, best.get(target, 0.0))
    if not best:
        return []
    # Only the ones about as close as the closest: with `Parallel` right, no `EachParallel`.
    top = max(best.values())
    ranked = sorted(
        (t for t in best if best[t] >= top - _WINDOW),
        key=lambda t: (-best[t], _preferred(names[t], full)),
    )
    return [_preferred(names[t], full) for t in ranked[:count]]
