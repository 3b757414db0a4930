"""Shared fixtures: real back ends, one per test session, started only when asked for."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker
from tests.harness.noida import NoidaServer

_INTEGRATION_DIR = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _INTEGRATION_DIR in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    with KafkaBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def external_kafka() -> Iterator[KafkaBroker]:
    """A second, separate Kafka cluster: the external producers' own, which Kafka
    triggers read from (never Lanner's log)."""
    with KafkaBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def es_node() -> Iterator[ElasticsearchNode]:
    with ElasticsearchNode() as node:
        yield node


@pytest.fixture(scope="session")
def noida() -> Iterator[NoidaServer]:
    with NoidaServer() as server:
        yield server


@pytest.fixture
def unique_prefix() -> str:
    """Own topic and index names per test, so tests share a broker but never data.

    Lower-case letters and digits only: valid in both Kafka topic and ES index names.
    """
    return f"t{secrets.token_hex(4)}"
