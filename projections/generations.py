"""Every view is an alias over a physical index generation: `executions` -> `executions-v3`.

Readers (the API) and the live indexer only ever name the alias, so a rebuild can fill
`executions-v4` beside the live generation and switch the alias in one atomic step.
The first start creates generation 1. A view created before aliases existed is a
concrete index under the alias's name; it keeps working as it is, and the first rebuild
replaces it (see SearchStore.point_aliases).
"""

from __future__ import annotations

import logging
import re

from elasticsearch import BadRequestError

from projections import mappings
from projections.store.client import SearchStore

log = logging.getLogger(__name__)

_GENERATION = re.compile(r"^(?P<view>.+)-v(?P<n>\d+)$")


def physical_name(view: str, generation: int) -> str:
    return f"{view}-v{generation}"


def generation_of(view: str, index: str | None) -> int:
    """The generation number of `index` (a short name) if it is one of `view`'s, else 0."""
    if index is None:
        return 0
    match = _GENERATION.match(index)
    if match is None or match["view"] != view:
        return 0
    return int(match["n"])


def ensure_views(store: SearchStore, views: list[str] | None = None) -> dict[str, str]:
    """Make every view name resolvable; return view -> the index it names now.

    Idempotent and safe to race: two processes starting together both create generation
    1 (one of them benignly finds it there) and point the alias to it.
    """
    current: dict[str, str] = {}
    for view in views or list(mappings.MAPPINGS):
        live = store.index_for_alias(view)
        if live is not None:
            current[view] = live
        elif store.exists(view):
            # A concrete index from before aliases: leave it; a rebuild replaces it.
            current[view] = view
        else:
            first = physical_name(view, 1)
            store.ensure_index(first, mappings.MAPPINGS[view])
            try:
                store.point_alias(view, first)
            except BadRequestError:
                # Another process (the API and an indexer start together) pointed it
                # between our look and our write: theirs stands.
                pointed = store.index_for_alias(view)
                if pointed is None:
                    raise
                current[view] = pointed
                continue
            log.info(
                "view created",
                extra={"view": store.full_name(view), "index": store.full_name(first)},
            )
            current[view] = first
    return current


def next_physical(store: SearchStore, view: str, live: str | None) -> str:
    """A fresh generation name after `live`, skipping names left by aborted rebuilds
    (never reused: one may still be kept on purpose, with --keep-old)."""
    generation = generation_of(view, live) + 1
    while store.exists(physical_name(view, generation)):
        generation += 1
    return physical_name(view, generation)


__all__ = ["ensure_views", "generation_of", "next_physical", "physical_name"]
