"""Task metrics on /metrics: the `metrics` view summed into Prometheus series.

Per (namespace, flow, task, metric name): a counter's values summed
(`lanner_task_counter_total`), a timer's as a summary's `_sum` (seconds) and `_count`,
a gauge's latest value. Sums over the whole view only grow, as a Prometheus counter must.
Tags are not labels here: their values are free-form and would multiply the series.
"""

from __future__ import annotations

from typing import Any

from projections.metrics_view import METRICS
from projections.store.client import SearchStore

# A bound on the series exported (composite pages of _PAGE), so a flow that invents
# metric names cannot make a scrape unbounded.
MAX_SERIES = 10_000
_PAGE = 1_000
_KEYS = ("namespace", "flowId", "taskId", "name", "type")
_LABELS = {"namespace": "namespace", "flowId": "flow_id", "taskId": "task_id", "name": "metric"}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _series(store: SearchStore) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after: dict[str, Any] | None = None
    while len(found) < MAX_SERIES:
        composite: dict[str, Any] = {
            "size": _PAGE,
            "sources": [{k: {"terms": {"field": k, "missing_bucket": True}}} for k in _KEYS],
        }
        if after:
            composite["after"] = after
        aggs = store.aggregate(
            METRICS,
            None,
            {
                "series": {
                    "composite": composite,
                    "aggs": {
                        "sum": {"sum": {"field": "value"}},
                        "last": {
                            "top_hits": {
                                "size": 1,
                                "sort": [{"timestamp": "desc"}],
                                "_source": ["value"],
                            }
                        },
                    },
                }
            },
        )
        series = aggs.get("series", {})
        buckets = series.get("buckets", [])
        found += buckets
        after = series.get("after_key")
        if not buckets or not after:
            break
    return found[:MAX_SERIES]


def task_metric_lines(store: SearchStore) -> list[str]:
    """The exposition lines of the task metrics (empty when there are none)."""
    if not store.exists(METRICS):
        return []
    counters: list[str] = []
    timers: list[str] = []
    gauges: list[str] = []
    for bucket in _series(store):
        key = bucket["key"]
        labels = ",".join(
            f'{label}="{_escape(str(key.get(field) or ""))}"' for field, label in _LABELS.items()
        )
        total = float(bucket["sum"].get("value") or 0.0)
        if key.get("type") == "counter":
            counters.append(f"lanner_task_counter_total{{{labels}}} {total}")
        elif key.get("type") == "timer":
            timers.append(f"lanner_task_timer_seconds_sum{{{labels}}} {total / 1000.0}")
            timers.append(f"lanner_task_timer_seconds_count{{{labels}}} {bucket['doc_count']}")
        elif key.get("type") == "gauge":
            hits = bucket["last"]["hits"]["hits"]
            value = hits[0]["_source"].get("value") if hits else None
            if value is not None:
                gauges.append(f"lanner_task_gauge{{{labels}}} {float(value)}")
    lines: list[str] = []
    if counters:
        lines += [
            "# HELP lanner_task_counter_total Counters reported by task runs, summed.",
            "# TYPE lanner_task_counter_total counter",
            *counters,
        ]
    if timers:
        lines += [
            "# HELP lanner_task_timer_seconds Timers reported by task runs.",
            "# TYPE lanner_task_timer_seconds summary",
            *timers,
        ]
    if gauges:
        lines += [
            "# HELP lanner_task_gauge Gauges reported by task runs: the latest value.",
            "# TYPE lanner_task_gauge gauge",
            *gauges,
        ]
    return lines
