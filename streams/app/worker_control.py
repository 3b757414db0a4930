"""Stop requests for running jobs (topic worker-control), read by every worker.

Every worker reads every partition from the end (no consumer group): a stop is
addressed to whoever runs the attempt, and a worker that does not run it ignores it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_END, Consumer, TopicPartition

from streams.log.client_logging import kafka_logging

log = logging.getLogger("lanner.worker")


async def listen_for_stops(
    bootstrap: str, topic: str, on_stop: Callable[[str, int], None], stop: asyncio.Event
) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"lanner-worker-control-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 50,
            **kafka_logging(),
        }
    )
    try:
        metadata = await asyncio.to_thread(consumer.list_topics, topic, 10)
        partitions = list(metadata.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in partitions])
        while not stop.is_set():
            message = await asyncio.to_thread(consumer.poll, 0.5)
            if message is None or message.error() is not None:
                continue
            try:
                request = json.loads(message.value() or b"{}")
                on_stop(str(request["task_run_id"]), int(request["attempt"]))
            except (ValueError, KeyError, TypeError):
                log.warning(
                    "skipping a malformed stop request",
                    extra={"partition": message.partition(), "offset": message.offset()},
                )
    finally:
        await asyncio.to_thread(consumer.close)
