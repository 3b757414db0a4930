"""The concurrency gate: which executions of a flow may run now (pure decisions)."""
