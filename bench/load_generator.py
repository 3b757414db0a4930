"""HTTP load from `hey` (Go): a Python client on the same 2 cores measures itself.

Measured here (one webserver, broker and Elasticsearch on loopback): httpx with 32
concurrent clients in one Python process drove 90 creations/s while the API, under `hey`,
answered about 1,000/s; the Python client spent the cores the server needed.

`hey` is found on PATH or in the download cache (`$LANNER_CACHE/bin`), else built there
once with `go install` from the Go module proxy; without Go, the benches say so and fall
back to their Python client.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.harness.common import cache_dir, file_lock

HEY_MODULE = "github.com/rakyll/hey@v0.1.5"


@dataclass(frozen=True)
class LoadResult:
    requests: int
    per_second: float
    p50_s: float
    p95_s: float
    p99_s: float
    statuses: dict[int, int]
    errors: list[str]


def hey_binary() -> Path | None:
    """The `hey` executable, built into the cache on first use; None without Go."""
    found = shutil.which("hey")
    if found:
        return Path(found)
    cache = cache_dir()
    binary = cache / "bin" / "hey"
    with file_lock(cache / "hey.lock"):
        if binary.exists():
            return binary
        go = shutil.which("go")
        if go is None:
            return None
        env = {
            **os.environ,
            "GOBIN": str(binary.parent),
            "GOPATH": str(cache / "go"),
            "GOFLAGS": "-mod=mod",
        }
        subprocess.run(
            [go, "install", HEY_MODULE], env=env, check=True, timeout=600, capture_output=True
        )
    return binary


def hey_post_json(
    binary: Path,
    url: str,
    *,
    clients: int,
    requests: int,
    body: str = "{}",
    rate_per_client: float | None = None,
) -> LoadResult:
    """POST `body` to `url` `requests` times from `clients` concurrent connections
    (each at most `rate_per_client` requests/s when given)."""
    command = [str(binary), "-n", str(requests), "-c", str(clients), "-m", "POST"]
    command += ["-T", "application/json", "-d", body, "-t", "60"]
    if rate_per_client:
        command += ["-q", str(rate_per_client)]
    out = subprocess.run(
        [*command, url], check=True, capture_output=True, text=True, timeout=900
    ).stdout
    return parse_hey(out)


def parse_hey(out: str) -> LoadResult:
    """The figures of hey's text summary."""

    def latency(pct: int) -> float:
        found = re.search(rf"{pct}%+ in ([0-9.]+) secs", out)
        return float(found.group(1)) if found else float("nan")

    rate = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    statuses = {int(code): int(n) for code, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    errors_block = out.split("Error distribution:", 1)
    errors = (
        [x.strip() for x in errors_block[1].splitlines() if x.strip()]
        if len(errors_block) > 1
        else []
    )
    return LoadResult(
        requests=sum(statuses.values()),
        per_second=float(rate.group(1)) if rate else 0.0,
        p50_s=latency(50),
        p95_s=latency(95),
        p99_s=latency(99),
        statuses=statuses,
        errors=errors,
    )
