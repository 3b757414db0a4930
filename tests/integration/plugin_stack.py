"""The API stack (executor, worker, indexer, API) with every `lanner.plugins` entry point
of pyproject.toml registered, in the role processes and in this one (where the API
validates flows): the set-up of the plugin packages' integration tests."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker
from tests.integration.cluster import REPO
from tests.integration.stack import Stack, running_stack
from tests.integration.task_cluster import plugin_metadata_dir


@contextmanager
def plugin_stack(
    kafka_broker: KafkaBroker,
    es_node: ElasticsearchNode,
    work: Path,
    *,
    roles: tuple[str, ...] = ("executor", "worker"),
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    meta = plugin_metadata_dir()
    sys.path.insert(0, str(meta))
    importlib.invalidate_caches()
    env = {"PYTHONPATH": f"{meta}{os.pathsep}{REPO}", **(extra_env or {})}
    try:
        with running_stack(kafka_broker, es_node, work, extra_env=env, roles=roles) as stack:
            yield stack
    finally:
        sys.path.remove(str(meta))
        importlib.invalidate_caches()
