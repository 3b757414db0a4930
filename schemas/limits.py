"""What a flow author or an API caller may ask for: the bounds, as settings (pure).

Part of LannerSettings (its `limits`), kept apart so that the executor's pure core can
hold them without the settings' environment reading.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    """What a flow author or an API caller may ask for (LANNER_LIMITS_<FIELD>, upper case).

    Everything a hostile flow or request controls has a bound here, with a default a
    demanding user will not meet by accident; the README's limits table lists them.
    """

    model_config = ConfigDict(frozen=True)

    # HTTP request bodies (413 past it), webhooks included.
    request_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Multipart uploads of FILE inputs (creating or resuming an execution): spooled to
    # disk and copied to storage in chunks, never held in memory whole.
    upload_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    # A flow's YAML source, and what its YAML may expand to.
    flow_source_bytes: int = Field(default=1024 * 1024, ge=1024)
    yaml_aliases: int = Field(default=100, ge=0)
    yaml_nodes: int = Field(default=100_000, ge=100)
    # YAML nesting, bounded below what the composer's recursion can take.
    yaml_depth: int = Field(default=100, ge=10, le=250)
    # Flowables inside flowables (checked at validation, with the line).
    nesting_depth: int = Field(default=20, ge=2)
    # Values one ForEach/Parallel may fan out to, and task runs in one execution. One
    # message that creates N task runs costs about N^2 in the executor's steps: 1,000 took
    # 0.6 s, 10,000 took 160 s on 2 busy cores; hence the defaults, and a bound on what one
    # step (one message's decision) may create.
    fan_out: int = Field(default=1_000, ge=1)
    task_runs_per_execution: int = Field(default=50_000, ge=10)
    task_runs_per_step: int = Field(default=2_000, ge=10)
    # One expression render: wall time and size of what it produces.
    render_seconds: float = Field(default=2.0, gt=0)
    render_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # ... and its deterministic budget: loop iterations, calls, filters, lookups (a step
    # each; producing text costs a step per 128 bytes). About 1 s of Jinja on 2 cores.
    render_steps: int = Field(default=100_000, ge=1000)
    # Execution inputs kept on the log (task outputs past 256 KiB spill to storage:
    # streams/storage/spill.py).
    input_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Nesting of an input's JSON value: the log's JSON decoder stops at 200 levels, and a
    # command it cannot decode would never run.
    input_depth: int = Field(default=32, ge=1, le=150)
    # How long a webhook with `wait: true` holds its caller before answering 504.
    webhook_wait_seconds: float = Field(default=300.0, gt=0)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        values = {
            name: env[f"LANNER_LIMITS_{name.upper()}"]
            for name in cls.model_fields
            if env.get(f"LANNER_LIMITS_{name.upper()}", "") != ""
        }
        return cls.model_validate(values)
