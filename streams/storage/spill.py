"""Keep events small: outputs bigger than a bound go to storage and travel as URIs.

The broker refuses messages above its size limit (1 MiB by default), and an execution's
state carries every output; so a task's outputs are bounded, and what does not fit is
written as JSON to storage, its place taken by `kestra://.../outputs/<name>.json`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from schemas.storage import Storage, task_file_uri

# Outputs of one task run, as JSON; well under the broker's limit with room for the rest.
MAX_OUTPUTS_BYTES = 256 * 1024
# A single value above this goes to storage even when the total would fit.
MAX_VALUE_BYTES = 64 * 1024


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str).encode())


def spill_outputs(
    outputs: Mapping[str, Any], storage: Storage, prefix: str
) -> tuple[dict[str, Any], list[str]]:
    """(outputs that fit, names that were spilled). Biggest values go first."""
    result = dict(outputs)
    sizes = {name: _size(value) for name, value in result.items()}
    spilled: list[str] = []
    total = sum(sizes.values())
    for name in sorted(sizes, key=lambda n: sizes[n], reverse=True):
        if total <= MAX_OUTPUTS_BYTES and sizes[name] <= MAX_VALUE_BYTES:
            break
        data = json.dumps(result[name], default=str).encode()
        uri = task_file_uri(prefix, f"outputs/{name}.json")
        storage.put_bytes(uri, data)
        result[name] = uri
        total += _size(uri) - sizes[name]
        spilled.append(name)
    return result, spilled
