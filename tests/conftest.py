"""Shared fixtures: real back ends, one per test session, started only when asked for."""

from __future__ import annotations

import secrets
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.common import HarnessError
from tests.harness.elasticsearch_node import ElasticsearchNode
from tests.harness.kafka_broker import KafkaBroker
from tests.harness.noida import NoidaServer
from tests.harness.postgres import PostgresServer, postgres_bin

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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server (Debian's package, apt-get installed when missing and we
    are root); skipped, loudly, only when it cannot be had at all."""
    try:
        postgres_bin()
    except HarnessError as exc:
        message = f"POSTGRESQL UNAVAILABLE, SQL TESTS SKIPPED: {exc}"
        warnings.warn(message, stacklevel=1)
        print(f"\n*** {message} ***", file=sys.stderr)
        pytest.skip(message)
    with PostgresServer() as server:
        yield server


@pytest.fixture
def unique_prefix() -> str:
    """Own topic and index names per test, so tests share a broker but never data.

    Lower-case letters and digits only: valid in both Kafka topic and ES index names.
    """
    return f"t{secrets.token_hex(4)}"
