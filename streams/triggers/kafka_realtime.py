"""`io.kestra.plugin.kafka.RealtimeTrigger`: one execution per record, as it arrives."""

from __future__ import annotations

from confluent_kafka import Consumer

from streams.triggers.kafka_listener import KafkaListener

# Short, so a stop or a disable is seen within the poll.
POLL_S = 0.2


class RealtimeListener(KafkaListener):
    def poll_once(self, consumer: Consumer) -> None:
        records = self.fetch(consumer, POLL_S)
        if not records:
            return
        commands: list[tuple[str, str, bytes]] = []
        ends: dict[str, int] = {}
        for record in records:
            ends[record.position] = record.offset + 1
            if not self.keep(record):
                continue
            variables = self.requests.decode(record)
            if variables is None:
                continue
            execution_id = self.requests.execution_id(record.topic, record.partition, record.offset)
            command = self.requests.command_for(record, execution_id, variables)
            if command is not None:
                commands.append(command)
        # Durable on Lanner's log first; only then may the cluster forget the records.
        self.requests.write_pending(commands)
        self.commit(ends)
