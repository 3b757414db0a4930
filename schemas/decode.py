"""The one way to turn stored bytes (or a stored JSON object) into an event.

Both go through the events' adapters, which upcast older versions first
(schemas.upcasting), so a caller never sees anything but current events.
"""

from __future__ import annotations

from typing import Any

from schemas.events import EXECUTION_EVENT_ADAPTER, FLOW_EVENT_ADAPTER, ExecutionEvent, FlowEvent


def decode_execution_event(raw: bytes | str | dict[str, Any]) -> ExecutionEvent:
    if isinstance(raw, dict):
        return EXECUTION_EVENT_ADAPTER.validate_python(raw)
    return EXECUTION_EVENT_ADAPTER.validate_json(raw)


def decode_flow_event(raw: bytes | str | dict[str, Any]) -> FlowEvent:
    if isinstance(raw, dict):
        return FLOW_EVENT_ADAPTER.validate_python(raw)
    return FLOW_EVENT_ADAPTER.validate_json(raw)
