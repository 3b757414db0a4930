"""Rebuild views from the log into fresh indices, then swap their aliases.

Steps, for the chosen views (all by default):

1. Create a fresh physical generation per view (`executions-v2` beside the live
   `executions-v1`, which the alias `executions` names). The API and the live indexer
   keep reading and writing through the aliases, i.e. the old generation.
2. Capture the end offsets E0 of the views' source topics and copy every partition
   from its beginning to E0 into the new indices, in bulk, with the live indexer's own
   code (`ViewWriter`: BatchProjector + ExecutionFolder); only the writes' destination
   differs. Memory is bounded: the consumer's prefetch, one batch, the folder's LRU.
3. Catch up: copy from where we stopped to the current ends, again, until a pass
   starts less than CATCH_UP_LAG records behind.
4. Refresh the new indices (so searches see everything copied), then swap every
   alias in ONE atomic update_aliases request: readers see all old views or all new.
5. Copy twice more, each time from where we stopped to the ends read at that moment
   (pass A: ends read right after the swap; pass B: ends read after pass A).
6. Delete the old generations (after a short drain), unless keep_old.

Why passes A and B make the swap safe. The live indexer never stops, and it may be
ahead of the rebuild when the alias moves (we swap at a small lag, not at zero):

- Records the live indexer projected before the swap went to the OLD generation, and
  so may be missing from the new one. The live indexer can only have read records
  below the high watermark at that time, so every such record is below the ends read
  after the swap: pass A writes them into the new generation. A bulk request already
  routed to the old generation when the swap lands is covered the same way.
- After the swap the live indexer writes into the new generation. When it has an
  execution in memory (the usual case) its fold is complete and equals ours (`evolve`
  is pure). On a cache miss it loads the state from the new generation, which may still
  lack events that pass A has not written yet; the next event then does not fit the
  history and the live indexer skips it (logged). Such loads can only happen before
  pass A ends, for records the live indexer read by then, all below the ends read after
  pass A: pass B folds them with our complete in-memory history. Any load after pass A
  finds every earlier event in the new generation, either from us or from the live
  indexer itself.
- Writing the same event twice is harmless everywhere: every document has a log-derived
  id and an external version (execution seq, event seq, log id with version 1, offset
  of the flow or trigger record), so a repeated or older write is a 409 that changes
  nothing, whichever of the two writers comes second. That also makes a second rebuild
  produce the same documents (idempotent).

What the swap does NOT fix: documents removed from a view alone (DELETE of an execution
only deletes its documents; the log keeps its history) come back with a rebuild, as the
API documents. A live indexer running older code keeps writing its own document shape
into the new generation: restart indexers on the new code before rebuilding for a shape
change. Run one rebuild of a view at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from projections import mappings
from projections.apply import ViewWriter
from projections.audit import AUDIT
from projections.generations import ensure_views, next_physical
from projections.metrics_view import METRICS
from projections.range_reader import Offsets, read_ranges, remaining, watermarks
from projections.store.client import SearchStore
from schemas.settings import LannerSettings
from streams.log.topics import Topics

log = logging.getLogger(__name__)

# Swap once a catch-up pass would start at most this many records behind: the passes
# after the swap take the rest, so waiting for zero under live traffic gains nothing.
CATCH_UP_LAG = 1000
MAX_CATCH_UP_PASSES = 20
# Lets requests routed to an old generation just before the swap finish before it goes.
DRAIN_S = 1.0


@dataclass(frozen=True)
class RebuildProgress:
    phase: str
    done: int
    total: int


ProgressFn = Callable[[RebuildProgress], None]


@dataclass(frozen=True)
class ViewReport:
    view: str
    index: str
    previous: str | None
    documents: int
    written: int
    seconds: float


@dataclass(frozen=True)
class RebuildReport:
    views: list[ViewReport]
    records: int
    # Records copied by the passes after the swap (what the live indexer raced).
    records_after_swap: int
    seconds: float
    kept_old: bool


class RebuildAborted(RuntimeError):
    """The rebuild was stopped before the swap; the live views are untouched."""


def _view_topics(topics: Topics) -> dict[str, tuple[str, ...]]:
    return {
        mappings.FLOWS: (topics.flow_events,),
        mappings.FLOW_REVISIONS: (topics.flow_events,),
        mappings.EXECUTIONS: (topics.execution_events,),
        mappings.EVENTS: (topics.execution_events,),
        mappings.LOGS: (topics.logs,),
        mappings.TRIGGERS: (topics.trigger_events,),
        AUDIT: (topics.flow_events, topics.execution_events),
        METRICS: (topics.execution_events,),
    }


# Views whose documents read the execution fold (audit takes an execution event's
# namespace and flow from it, metrics their tenant and task ids). The fold must then
# start from nothing and keep its states in the generation being built: one that loaded
# live states would skip the events it has already seen, and leave those fields empty.
_NEEDS_FOLD = {AUDIT, METRICS}


def resolve_views(names: list[str] | None) -> list[str]:
    """The views to rebuild, in a stable order; every one of them when `names` is empty.

    A view that needs the execution fold brings `executions` along.
    """
    if not names:
        return list(mappings.MAPPINGS)
    unknown = sorted(set(names) - set(mappings.MAPPINGS))
    if unknown:
        raise ValueError(
            f"unknown view(s) {', '.join(unknown)}; choose from {', '.join(mappings.MAPPINGS)}"
        )
    wanted = set(names)
    if wanted & _NEEDS_FOLD:
        wanted.add(mappings.EXECUTIONS)
    return [view for view in mappings.MAPPINGS if view in wanted]


def source_topics(topics: Topics, views: list[str]) -> list[str]:
    """The topics the views are folded from, each once."""
    by_view = _view_topics(topics)
    # A view added later without an entry here still rebuilds, from every indexed topic.
    every = (topics.flow_events, topics.execution_events, topics.logs, topics.trigger_events)
    return list(dict.fromkeys(topic for view in views for topic in by_view.get(view, every)))


class _RebuildPasses:
    """Copies log ranges into the new generations, counting records for the progress bar."""

    def __init__(
        self,
        settings: LannerSettings,
        writer: ViewWriter,
        topics: list[str],
        progress: ProgressFn | None,
        stop: threading.Event,
    ) -> None:
        self._bootstrap = settings.kafka_bootstrap
        self._writer = writer
        self._topics = topics
        self._progress = progress
        self.stop = stop
        self.done = 0
        self.total = 0
        self.records = 0

    def ends(self) -> tuple[Offsets, Offsets]:
        return watermarks(self._bootstrap, self._topics)

    def report(self, phase: str) -> None:
        if self._progress is not None:
            self._progress(RebuildProgress(phase, self.done, self.total))

    def run(self, phase: str, starts: Offsets, ends: Offsets) -> Offsets:
        """Copy [starts, ends); return the positions reached (the ends)."""
        self.total += remaining(starts, ends)
        self.report(phase)
        began, before = time.monotonic(), self.records
        for batch in read_ranges(self._bootstrap, starts, ends, self.stop):
            self._writer.apply(batch, self.stop)
            self.records += len(batch)
            self.done += len(batch)
            self.report(phase)
        if self.stop.is_set():
            raise RebuildAborted(f"stopped during {phase}")
        # Offsets that hold no record (transaction markers) still count as covered.
        self.done = self.total
        self.report(phase)
        log.info(
            "replay pass done",
            extra={
                "phase": phase,
                "records": self.records - before,
                "seconds": round(time.monotonic() - began, 2),
            },
        )
        return {**starts, **ends}


def rebuild(
    settings: LannerSettings,
    names: list[str] | None,
    progress: ProgressFn | None = None,
    *,
    keep_old: bool = False,
    stop: threading.Event | None = None,
    store: SearchStore | None = None,
    catch_up_lag: int = CATCH_UP_LAG,
) -> RebuildReport:
    """Rebuild the views `names` (all when None) from the log; see the module docstring."""
    views = resolve_views(names)
    own_store = store is None
    store = store or SearchStore(settings.elasticsearch_url, settings.full_index_prefix)
    stop = stop or threading.Event()
    began = time.monotonic()
    try:
        store.wait_ready()
        live = ensure_views(store, views)
        targets = {view: next_physical(store, view, live[view]) for view in views}
        log.info("rebuild started", extra={"views": views, "targets": targets, "live": live})
        if progress is not None:
            progress(RebuildProgress("prepare", 0, 0))
        writer = ViewWriter(store, Topics(settings.full_topic_prefix), targets)
        passes = _RebuildPasses(
            settings,
            writer,
            source_topics(Topics(settings.full_topic_prefix), views),
            progress,
            stop,
        )
        try:
            _create_indices(store, targets)
            positions = _fill(passes, catch_up_lag)
            passes.report("swap")
            # Searches see only refreshed documents: without this, the first second
            # after the swap would answer from a partly empty view.
            for index in targets.values():
                store.refresh(index)
            store.point_aliases(targets)
        except BaseException:
            _drop_unswapped(store, targets)
            raise
        # Not stoppable: these passes are what makes the swap safe, and they are short.
        passes.stop = threading.Event()
        before_swap = passes.records
        for phase in ("after swap", "settle"):
            _, ends = passes.ends()
            positions = passes.run(phase, positions, ends)
        reports = _reports(store, writer, views, targets, live)
        _retire(store, views, live, keep_old)
        return RebuildReport(
            reports,
            passes.records,
            passes.records - before_swap,
            round(time.monotonic() - began, 3),
            keep_old,
        )
    finally:
        if own_store:
            store.close()


def _drop_unswapped(store: SearchStore, targets: dict[str, str]) -> None:
    """Delete the new generations after a failure before the swap: the views are as
    before. Checked per view, because a swap request that timed out may still have
    been applied, and a generation an alias names is live."""
    for view, index in targets.items():
        try:
            if store.index_for_alias(view) != index:
                store.delete_index(index)
        except Exception as exc:  # cleaning up must not hide the failure itself
            log.warning(
                "could not drop an unfinished generation",
                extra={"index": store.full_name(index), "error": str(exc)},
            )


def _create_indices(store: SearchStore, targets: dict[str, str]) -> None:
    # Concurrently: each creation waits for its shard to start (about a second on a
    # small node), and the master batches concurrent creations into one state update.
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        for created in [
            pool.submit(store.ensure_index, index, mappings.MAPPINGS[view])
            for view, index in targets.items()
        ]:
            created.result()


def _fill(passes: _RebuildPasses, catch_up_lag: int) -> Offsets:
    """Copy from the beginning, then catch up until close enough to swap."""
    lows, ends = passes.ends()
    positions = passes.run("replay", lows, ends)
    for _ in range(MAX_CATCH_UP_PASSES):
        _, ends = passes.ends()
        if remaining(positions, ends) <= catch_up_lag:
            break
        positions = passes.run("catch-up", positions, ends)
    else:
        log.warning(
            "still behind after the catch-up passes; swapping anyway, the passes "
            "after the swap take the rest",
            extra={"passes": MAX_CATCH_UP_PASSES},
        )
    return positions


def _reports(
    store: SearchStore,
    writer: ViewWriter,
    views: list[str],
    targets: dict[str, str],
    live: dict[str, str],
) -> list[ViewReport]:
    reports: list[ViewReport] = []
    for view in views:
        store.refresh(targets[view])
        reports.append(
            ViewReport(
                view=view,
                index=store.full_name(targets[view]),
                previous=store.full_name(live[view]) if live[view] != view else None,
                documents=store.count(targets[view]),
                written=writer.stats.written_by_view.get(view, 0),
                seconds=round(writer.stats.write_s_by_view.get(view, 0.0), 3),
            )
        )
    return reports


def _retire(store: SearchStore, views: list[str], live: dict[str, str], keep_old: bool) -> None:
    old = [live[view] for view in views if live[view] != view]
    if any(live[view] == view for view in views):
        # A pre-alias concrete index shares the alias's name: the swap had to delete it.
        log.warning(
            "pre-alias indices replaced by the swap",
            extra={"views": [v for v in views if live[v] == v]},
        )
    if keep_old or not old:
        log.info(
            "rebuild done; old generations kept" if keep_old else "rebuild done",
            extra={"old": [store.full_name(i) for i in old]},
        )
        return
    time.sleep(DRAIN_S)
    for index in old:
        store.delete_index(index)
    log.info(
        "rebuild done; old generations deleted",
        extra={"deleted": [store.full_name(i) for i in old]},
    )


__all__ = [
    "CATCH_UP_LAG",
    "RebuildAborted",
    "RebuildProgress",
    "RebuildReport",
    "ViewReport",
    "rebuild",
    "resolve_views",
    "source_topics",
]
