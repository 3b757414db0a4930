"""Settings of every Lanner process: an object built once at the edge and passed in.

Nothing reads the environment at import time; `LannerSettings.from_env` is called by the
command line (or a test) and the result travels as an argument.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from schemas.limits import Limits

__all__ = ["AUTH_DEFAULTS", "RESERVED_TENANTS", "LannerSettings", "Limits", "auth_default"]

_SAFE_TENANT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# The first segment after /api/v1 is a tenant unless it names a route group; a tenant
# called like one would be unreachable through Kestra's /api/v1/{tenant}/... paths.
RESERVED_TENANTS = frozenset(
    {
        "flows",
        "executions",
        "logs",
        "audit",
        "stats",
        "health",
        "metrics",
        "namespaces",
        "plugins",
        "tokens",
        "secrets",
        "triggers",
    }
)
# LANNER_AUTH when it is not set: `server local` is the convenience mode on loopback;
# every other entry point (standalone, cluster roles, tests that build settings) is on.
AUTH_DEFAULTS = {"local": False}


def auth_default(mode: str) -> bool:
    return AUTH_DEFAULTS.get(mode, True)


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
    # A worker reports "started" only for a task still running after this many seconds
    # (0: at once). A quicker task sends one report, "finished", and costs the executor
    # one input instead of two; until a report is on the broker its job's offset is not
    # committed, so a worker that dies meanwhile leaves the job to be delivered again.
    worker_started_report_delay_s: float = Field(default=0.2, ge=0, le=60)
    scheduler_enabled: bool = True
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    data_dir: str = ".lanner"
    # A stop request (SIGTERM) is honoured within this many seconds: a graceful stop still
    # stuck then (a long request, a long render) is logged and the process exits.
    stop_deadline_s: float = Field(default=8.0, gt=0)
    # How long the API waits for its own write to be projected before answering.
    read_your_writes_timeout_s: float = 5.0
    # Every API route but /health needs a token (LANNER_AUTH=on|off).
    auth: bool = True
    # Stored secrets are encrypted with a key derived from this (LANNER_SECRET_KEY).
    secret_key: SecretStr | None = None
    limits: Limits = Field(default_factory=Limits)
    # A finished execution leaves the executor's table this long after it ended (the log
    # keeps its history, the views serve it): the table holds what runs, not all history.
    executor_retain_finished_s: float = Field(default=300.0, ge=0)
    # The executor's table store: "memory://" (fastest; recovery reads the changelog) or
    # "rocksdb://" (on disk under data_dir, for working sets larger than memory; one
    # data_dir per executor process).
    executor_store: Literal["memory://", "rocksdb://"] = "memory://"
    # How soon the log cleaner compacts what the tables' changelogs no longer hold (the
    # records and tombstones of forgotten executions): the changelog's segment roll, its
    # tombstones' retention and its maximum compaction lag. A restart's recovery reads the
    # live records plus about two of these windows of writes, whatever the history.
    changelog_compaction_s: float = Field(default=600.0, gt=0)
    # The process environment as the edge read it (from_env), for what is configured by
    # variables the fields above do not name: SECRET_<NAME> secrets, the storage back end
    # (LANNER_STORAGE_*, AWS_*) and what a worker's child processes inherit. Nothing below
    # the entry points reads os.environ; never shown nor serialised (it holds secrets).
    environ: Mapping[str, str] = Field(default_factory=dict, repr=False, exclude=True)

    @field_validator("tenant_id")
    @classmethod
    def _tenant_is_safe(cls, value: str) -> str:
        if not _SAFE_TENANT.match(value):
            raise ValueError(
                f"tenant id {value!r} is not safe for topic and index names: use 1-63 "
                "characters of a-z, 0-9, '_' or '-', starting with a letter or digit"
            )
        if value in RESERVED_TENANTS:
            raise ValueError(
                f"tenant id {value!r} is reserved (it names an API route group): choose "
                f"another than {', '.join(sorted(RESERVED_TENANTS))}"
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
            "LANNER_REPLICATION_FACTOR": "replication_factor",
            "LANNER_WORKER_THREADS": "worker_threads",
            "LANNER_WORKER_STARTED_REPORT_DELAY_S": "worker_started_report_delay_s",
            "LANNER_SCHEDULER_ENABLED": "scheduler_enabled",
            "LANNER_API_HOST": "api_host",
            "LANNER_API_PORT": "api_port",
            "LANNER_DATA_DIR": "data_dir",
            "LANNER_AUTH": "auth",
            "LANNER_SECRET_KEY": "secret_key",
            "LANNER_STOP_DEADLINE_S": "stop_deadline_s",
            "LANNER_EXECUTOR_RETAIN_FINISHED_S": "executor_retain_finished_s",
            "LANNER_EXECUTOR_STORE": "executor_store",
            "LANNER_CHANGELOG_COMPACTION_S": "changelog_compaction_s",
        }
        for name, field in mapping.items():
            if name in env and env[name] != "":
                values[field] = env[name]
        values["limits"] = Limits.from_env(env)
        values["environ"] = dict(env)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    @property
    def full_topic_prefix(self) -> str:
        """The tenant is part of every topic name, so two tenants share nothing by accident."""
        return f"{self.topic_prefix}{self.tenant_id}."

    @property
    def full_index_prefix(self) -> str:
        return f"{self.index_prefix}-{self.tenant_id}"

    @property
    def system_topic_prefix(self) -> str:
        """Topics shared by every tenant (API tokens). '_' cannot start a tenant id, so
        this prefix never collides with a tenant's."""
        return f"{self.topic_prefix}_system."

    def for_tenant(self, tenant_id: str) -> LannerSettings:
        """The same installation seen as another tenant (validated: ValueError if unsafe)."""
        if tenant_id == self.tenant_id:
            return self
        return LannerSettings.model_validate({**dict(self), "tenant_id": tenant_id})
