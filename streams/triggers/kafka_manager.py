"""Start, stop and restart Kafka trigger listeners as flows and trigger states change.

Every scheduler process runs one manager. It reconciles twice a second against the live
flow catalog and the trigger states: a deployed flow's Kafka triggers get a listener, an
updated trigger gets a new one, a deleted or disabled flow or trigger (in YAML, or by an
operator's TriggerDisabled) loses its listener. Listeners of one trigger in several
processes share the trigger's consumer group, so Kafka gives each partition one owner.
"""

from __future__ import annotations

import logging
import threading

from schemas.triggers.kafka import BATCH_TYPES, MODELS, KafkaTriggerBase
from streams.flow_catalog import FlowSources
from streams.triggers.kafka_batch import BatchListener
from streams.triggers.kafka_listener import KafkaListener
from streams.triggers.kafka_realtime import RealtimeListener
from streams.triggers.kafka_target import ListenerPorts, ListenerTarget
from streams.triggers.specs import TriggerSpecs
from streams.triggers.view import TriggerStates

log = logging.getLogger("lanner.triggers.kafka")

RECONCILE_S = 0.5


class KafkaTriggerManager:
    def __init__(
        self, tenant: str, catalog: FlowSources, states: TriggerStates, ports: ListenerPorts
    ) -> None:
        self.tenant = tenant
        self.catalog = catalog
        self.states = states
        self.ports = ports
        self.listeners: dict[str, KafkaListener] = {}
        self.specs = TriggerSpecs(catalog, tenant, MODELS, log)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kafka-triggers", daemon=True)

    def start(self) -> KafkaTriggerManager:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for listener in self.listeners.values():
            listener.stop()
        self.listeners.clear()

    def _run(self) -> None:
        while not self._stop.wait(RECONCILE_S):
            try:
                self.reconcile()
            except Exception:
                log.exception("reconciling kafka triggers failed; trying again")

    def desired(self) -> dict[str, ListenerTarget]:
        wanted: dict[str, ListenerTarget] = {}
        for running in self.specs.running():
            trigger = running.trigger
            assert isinstance(trigger, KafkaTriggerBase)
            target = ListenerTarget(
                self.tenant, running.namespace, running.flow_id, trigger, trigger.model_dump_json()
            )
            state = self.states.get(target.key)
            if state is not None and state.disabled:
                continue
            wanted[target.key] = target
        return wanted

    def reconcile(self) -> None:
        wanted = self.desired()
        for key in list(self.listeners):
            listener = self.listeners[key]
            target = wanted.get(key)
            if target is None or target.fingerprint != listener.target.fingerprint:
                log.info(
                    "stopping kafka listener", extra={"trigger": key, "changed": target is not None}
                )
                listener.stop()
                del self.listeners[key]
        for key, target in wanted.items():
            if key not in self.listeners:
                kind = BatchListener if target.trigger.type in BATCH_TYPES else RealtimeListener
                listener = kind(target, self.ports)
                listener.start()
                self.listeners[key] = listener
