"""Settings of every Lanner process: an object built once at the edge and passed in.

Nothing reads the environment at import time; `LannerSettings.from_env` is called by the
command line (or a test) and the result travels as an argument.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

_SAFE_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def default_worker_threads() -> int:
    return max(3, os.cpu_count() or 1)


class LannerSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str = "main"
    kafka_bootstrap: str = "127.0.0.1:9092"
    elasticsearch_url: str = "http://127.0.0.1:9200"
    topic_prefix: str = "lanner."
    index_prefix: str = "lanner"
    partitions: int = Field(default=4, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1)
    worker_threads: int = Field(default_factory=default_worker_threads, ge=1)
    scheduler_enabled: bool = True
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    data_dir: str = ".lanner"
    # How long the API waits for its own write to be projected before answering.
    read_your_writes_timeout_s: float = 5.0

    @field_validator("tenant_id")
    @classmethod
    def _tenant_is_safe(cls, value: str) -> str:
        if not _SAFE_TENANT.match(value):
            raise ValueError(
                f"tenant id {value!r} is not safe for topic and index names: use 1-63 "
                "characters of a-z, 0-9, '_' or '-', starting with a letter or digit"
            )
        return value

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> LannerSettings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        mapping = {
            "LANNER_TENANT_ID": "tenant_id",
            "LANNER_KAFKA_BOOTSTRAP": "kafka_bootstrap",
            "LANNER_ELASTICSEARCH_URL": "elasticsearch_url",
            "LANNER_TOPIC_PREFIX": "topic_prefix",
            "LANNER_INDEX_PREFIX": "index_prefix",
            "LANNER_PARTITIONS": "partitions",
            "LANNER_WORKER_THREADS": "worker_threads",
            "LANNER_SCHEDULER_ENABLED": "scheduler_enabled",
            "LANNER_API_HOST": "api_host",
            "LANNER_API_PORT": "api_port",
            "LANNER_DATA_DIR": "data_dir",
        }
        for name, field in mapping.items():
            if name in env and env[name] != "":
                values[field] = env[name]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    @property
    def full_topic_prefix(self) -> str:
        """The tenant is part of every topic name, so two tenants share nothing by accident."""
        return f"{self.topic_prefix}{self.tenant_id}."

    @property
    def full_index_prefix(self) -> str:
        return f"{self.index_prefix}-{self.tenant_id}"
