"""Secrets: from the worker's environment (`environment`), stored encrypted in the log
(`stored`), and masked out of everything a worker emits (`masking`).

Secrets live where the workers are. The executor never sees them: when it renders a worker
task's properties, `secret('NAME')` renders to an opaque deferred marker (see
streams/core/context.py), and the worker resolves it just before the task runs
(streams/deferred_lookups.py). So a secret is never in an event.
"""
