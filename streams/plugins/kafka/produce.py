"""io.kestra.plugin.kafka.Produce: records to Kafka topics, on confluent-kafka.

`from` is one record (a map), a list of them, or a `kestra://` file of them, one a line
(JSON lines, or Ion as Kestra writes it). A record has `key`, `value`, and optionally
`topic` (else the task's), `partition`, `timestamp` (epoch milliseconds or ISO text) and
`headers` (a map, or the list of one-entry maps a Consume task writes). Keys and values
are written by `keySerializer`/`valueSerializer` (Java's byte layouts). Output, as in
Kestra: `messagesCount`.

Sends are transactional by default, as in Kestra: every record or none is committed. The
transactional id is derived from the task run, so a new attempt of the same task run fences
an earlier one that is still alive (a worker thought dead) and aborts what it left open.
A task body still runs at least once: an attempt that committed and then lost its worker
is sent again by the next attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from confluent_kafka import KafkaException, Message, Producer
from pydantic import Field, model_validator

from schemas.states import State
from schemas.storage import is_storage_uri
from streams.plugins.base import Outcome, WorkerContext, WorkerTask
from streams.plugins.core.files import TaskFileError, fetch, workdir
from streams.plugins.kafka.clients import (
    CONNECT_TIMEOUT_S,
    HeardErrors,
    KafkaTaskError,
    reach,
    settings,
)
from streams.plugins.kafka.serdes import SerdeType, Unserializable, check_serde, serialize
from streams.plugins.rows import RowFormatError, read_rows

Headers = list[tuple[str, bytes]]


class RecordError(ValueError):
    """A record of `from` that cannot be sent as it is; the message says which."""


def _timestamp_ms(value: Any, where: str) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise RecordError(f"{where}: timestamp {value!r} is not an ISO date-time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return int(moment.timestamp() * 1000)
    raise RecordError(f"{where}: timestamp {value!r} is neither epoch milliseconds nor text")


def _header_value(value: Any) -> bytes:
    return (value if isinstance(value, str) else json.dumps(value)).encode()


def _headers(value: Any, where: str) -> Headers:
    if isinstance(value, dict):
        return [(str(k), _header_value(v)) for k, v in value.items()]
    if isinstance(value, list) and all(isinstance(h, dict) and len(h) == 1 for h in value):
        return [(str(k), _header_value(v)) for h in value for k, v in h.items()]
    raise RecordError(f"{where}: headers must be a map or a list of one-entry maps")


class Produce(WorkerTask):
    TYPE: ClassVar[str] = "kafka.Produce"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.kafka.Produce",)

    properties: dict[str, str]
    serdeProperties: dict[str, str] = Field(default_factory=dict)
    topic: str | None = None
    from_: str | dict[str, Any] | list[Any] = Field(alias="from")
    keySerializer: SerdeType = "STRING"
    valueSerializer: SerdeType = "STRING"
    keyAvroSchema: str | None = None
    valueAvroSchema: str | None = None
    schemaRegistryVendor: dict[str, Any] | None = None
    transactional: bool = True

    @model_validator(mode="after")
    def _serializers_supported(self) -> Produce:
        check_serde(self.keySerializer, "keySerializer")
        check_serde(self.valueSerializer, "valueSerializer")
        return self

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            async with workdir(ctx) as folder:
                count = await self._send_from(ctx, folder)
        except (KafkaTaskError, RecordError, RowFormatError, TaskFileError) as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")
        await ctx.log("INFO", f"sent {count} records to Kafka")
        return Outcome(State.SUCCESS, {"messagesCount": count})

    async def _send_from(self, ctx: WorkerContext, folder: Path) -> int:
        source = self.from_
        if isinstance(source, str) and is_storage_uri(source):
            path = await fetch(ctx, source, folder / "from")
            rows: Iterable[tuple[str, Any]] = (
                (f"{source} line {n}", row) for n, row in read_rows(path)
            )
        else:
            rows = _inline_rows(source)
        transactional_id = f"lanner-produce-{ctx.tenant}-{ctx.task_run_id}"
        return await asyncio.to_thread(self._send, rows, folder, transactional_id)

    def _record(self, where: str, row: Any) -> dict[str, Any]:
        if not isinstance(row, dict):
            raise RecordError(f"{where}: a record must be a map, got {row!r:.100}")
        topic = row.get("topic", self.topic)
        if not topic:
            raise RecordError(f"{where}: no topic (set the task's `topic` or the record's)")
        record: dict[str, Any] = {"topic": str(topic)}
        try:
            record["key"] = serialize(self.keySerializer, row.get("key"), "key")
            record["value"] = serialize(self.valueSerializer, row.get("value"), "value")
        except Unserializable as exc:
            raise RecordError(f"{where}: {exc}") from None
        if row.get("partition") is not None:
            record["partition"] = int(row["partition"])
        if row.get("timestamp") is not None:
            record["timestamp"] = _timestamp_ms(row["timestamp"], where)
        if row.get("headers") is not None:
            record["headers"] = _headers(row["headers"], where)
        return record

    def _send(self, rows: Iterable[tuple[str, Any]], folder: Path, transactional_id: str) -> int:
        heard = HeardErrors()
        config = settings(self.properties, folder, heard)
        if self.transactional:
            config.setdefault("transactional.id", transactional_id)
        producer = Producer(config)
        failures: list[str] = []
        try:
            _reach(producer, None, heard)
            if self.transactional:
                producer.init_transactions(CONNECT_TIMEOUT_S)
                producer.begin_transaction()
            count = self._send_all(producer, rows, heard, failures.append)
            if self.transactional:
                producer.commit_transaction(CONNECT_TIMEOUT_S * 4)
            else:
                producer.flush(CONNECT_TIMEOUT_S * 4)
        except KafkaException as exc:
            _abort(producer, self.transactional)
            raise KafkaTaskError(f"Kafka refused the records: {_reason(exc, failures)}") from None
        except BaseException:
            _abort(producer, self.transactional)
            raise
        if failures:
            raise KafkaTaskError(f"{len(failures)} records were not sent: {failures[0]}")
        if len(producer) > 0:
            raise KafkaTaskError(f"{len(producer)} records still unsent: {heard.last()}")
        return count

    def _send_all(
        self,
        producer: Producer,
        rows: Iterable[tuple[str, Any]],
        heard: HeardErrors,
        failed: Callable[[str], None],
    ) -> int:
        def delivered(error: Any, message: Message) -> None:
            if error is not None:
                failed(f"{message.topic()}: {error.str()}")

        checked: set[str] = set()
        count = 0
        for where, row in rows:
            record = self._record(where, row)
            if record["topic"] not in checked:
                # As Kestra does: learn the topic's partitions once, so a missing topic
                # or an unreachable cluster fails now rather than after the send timeout.
                _reach(producer, record["topic"], heard)
                checked.add(record["topic"])
            while True:
                try:
                    producer.produce(on_delivery=delivered, **record)
                    break
                except BufferError:  # the local queue is full: let deliveries drain it
                    producer.poll(0.05)
            count += 1
            if count % 1000 == 0:
                producer.poll(0)
        return count


def _inline_rows(source: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(source, str):
        # A template that rendered to text (`from: "{{ outputs.x.rows }}"`) is JSON.
        try:
            source = json.loads(source)
        except ValueError:
            raise RecordError(
                f"`from` is neither a kestra:// file, a record nor a list: {source[:200]!r}"
            ) from None
    if isinstance(source, dict):
        yield "`from`", source
        return
    if not isinstance(source, list):
        raise RecordError(f"`from` must be a record or a list of records, got {source!r:.100}")
    for number, row in enumerate(source, start=1):
        yield f"record {number} of `from`", row


def _reach(producer: Producer, topic: str | None, heard: HeardErrors) -> None:
    metadata = reach(producer, topic, heard)
    found = metadata.topics.get(topic) if topic is not None else None
    if found is not None and found.error is not None:
        raise KafkaTaskError(f"topic {topic!r}: {found.error.str()}")


def _abort(producer: Producer, transactional: bool) -> None:
    if transactional:
        # Never begun, or the broker is gone: nothing was committed either way.
        with contextlib.suppress(KafkaException):
            producer.abort_transaction(CONNECT_TIMEOUT_S)
    else:
        producer.purge()


def _reason(exc: KafkaException, failures: list[str]) -> str:
    if failures:
        return failures[0]
    error = exc.args[0] if exc.args else None
    return str(error.str()) if error is not None and hasattr(error, "str") else str(exc)
