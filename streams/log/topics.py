"""Names of Lanner's topics (see DESIGN.md, "Topics")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    prefix: str

    @property
    def flow_events(self) -> str:
        return f"{self.prefix}flow-events"

    @property
    def commands(self) -> str:
        return f"{self.prefix}commands"

    @property
    def execution_events(self) -> str:
        return f"{self.prefix}execution-events"

    @property
    def worker_jobs(self) -> str:
        return f"{self.prefix}worker-jobs"

    @property
    def worker_results(self) -> str:
        return f"{self.prefix}worker-results"

    @property
    def logs(self) -> str:
        return f"{self.prefix}logs"

    @property
    def trigger_events(self) -> str:
        return f"{self.prefix}trigger-events"

    @property
    def concurrency(self) -> str:
        """Requests to the concurrency gate, keyed by flow uid."""
        return f"{self.prefix}concurrency"

    @property
    def worker_control(self) -> str:
        """Stop requests for running jobs; every worker reads all of it (no group)."""
        return f"{self.prefix}worker-control"

    @property
    def kv_events(self) -> str:
        # KvSet/KvDeleted keyed by tenant/namespace/key (streams/plugins/kv).
        return f"{self.prefix}kv-events"

    @property
    def namespace_files(self) -> str:
        """NamespaceFileWritten/Deleted keyed by tenant/namespace/path (the content is in
        internal storage; streams/plugins/namespace)."""
        return f"{self.prefix}namespace-file-events"

    @property
    def namespace_events(self) -> str:
        """A namespace's settings (NamespaceDefaultsSet: its pluginDefaults), keyed by
        tenant/namespace (streams/plugins/namespace/defaults.py)."""
        return f"{self.prefix}namespace-events"

    @property
    def secrets(self) -> str:
        """Encrypted namespace secrets (SecretSet/SecretDeleted), keyed by namespace/name."""
        return f"{self.prefix}secrets"

    @property
    def trigger_dead_letters(self) -> str:
        """External records no flow could read (undeserializable, too large), with the
        reason, keyed by trigger: nothing a producer sent is dropped without a trace."""
        return f"{self.prefix}trigger-dead-letters"

    @property
    def flow_trigger_conditions(self) -> str:
        """Upstream executions that met a Flow trigger's preconditions, keyed by trigger."""
        return f"{self.prefix}flow-trigger-conditions"

    def all(self) -> list[str]:
        return [
            self.flow_events,
            self.commands,
            self.execution_events,
            self.worker_jobs,
            self.worker_results,
            self.logs,
            self.trigger_events,
            self.worker_control,
            self.concurrency,
            self.kv_events,
            self.secrets,
            self.trigger_dead_letters,
            self.flow_trigger_conditions,
            self.namespace_files,
            self.namespace_events,
        ]


def tokens_topic(system_prefix: str) -> str:
    """API tokens of every tenant: one topic per installation, not per tenant."""
    return f"{system_prefix}tokens"
