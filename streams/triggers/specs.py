"""Which triggers of one family run: each enabled flow's latest revision, parsed.

The scheduler (schedules) and the Kafka trigger manager (listeners) both walk the flow
catalog on every tick for their own trigger types. A stored revision is not re-checked
on read (validate_flow's check_triggers=False), so a trigger is parsed into its family's
model and checked (streams/core/trigger_checks.py) here, once per revision; one that
does not pass is logged once and never runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from schemas.flow import TriggerSpec
from schemas.triggers import trigger_key
from streams.core.trigger_checks import trigger_problems
from streams.flow_catalog import FlowSources


@dataclass(frozen=True)
class RunningTrigger:
    namespace: str
    flow_id: str
    revision: int
    trigger: BaseModel


class TriggerSpecs:
    def __init__(
        self,
        catalog: FlowSources,
        tenant: str,
        models: Mapping[str, type[BaseModel]],
        log: logging.Logger,
    ) -> None:
        self.catalog = catalog
        self.tenant = tenant
        self.models = models
        self.log = log
        # flow key -> (revision, its parsed triggers of these types)
        self._parsed: dict[str, tuple[int, tuple[RunningTrigger, ...]]] = {}
        self._reported: set[tuple[str, int]] = set()

    def running(self) -> Iterator[RunningTrigger]:
        """The valid triggers of these types that are not disabled in YAML, in every
        enabled flow of the tenant (an operator's TriggerDisabled is the caller's)."""
        for flow_key in self.catalog.flow_keys():
            tenant, namespace, flow_id = flow_key.split("/", 2)
            if tenant != self.tenant:
                continue
            flow = self.catalog.get(tenant, namespace, flow_id)
            if flow is None or flow.flow.disabled or flow.flow.revision is None:
                continue
            revision = flow.flow.revision
            known = self._parsed.get(flow_key)
            if known is None or known[0] != revision:
                known = (
                    revision,
                    tuple(self._parse(flow_key, namespace, flow_id, revision, flow.flow.triggers)),
                )
                self._parsed[flow_key] = known
            yield from known[1]

    def _parse(
        self, flow_key: str, namespace: str, flow_id: str, revision: int, specs: list[TriggerSpec]
    ) -> Iterator[RunningTrigger]:
        for spec in specs:
            model = self.models.get(spec.type)
            if model is None or spec.disabled:
                continue
            try:
                trigger = model.model_validate(spec.model_dump(exclude_unset=True))
                problems = trigger_problems(trigger)
            except ValidationError as exc:
                problems = [("", str(exc))]
            if problems:
                key = trigger_key(self.tenant, namespace, flow_id, spec.id)
                if (key, revision) not in self._reported:
                    self._reported.add((key, revision))
                    self.log.error(
                        "invalid trigger",
                        extra={"trigger": key, "revision": revision, "problems": problems},
                    )
                continue
            yield RunningTrigger(namespace, flow_id, revision, trigger)
