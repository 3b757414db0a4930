"""Trigger runtimes beside the schedule (streams/scheduler): listeners on external Kafka
topics, Flow triggers over execution-events, and the live view of every trigger's state."""
