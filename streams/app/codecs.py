"""Faust codecs for the executor's table: values stay Python objects in memory and are
JSON only on the changelog, so the hot path never re-parses an execution."""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs

from streams.core.handle import ExecutorRecord

RECORD_CODEC = "lanner_record"


class _RecordCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        assert isinstance(obj, ExecutorRecord)
        return obj.model_dump_json().encode()

    def _loads(self, s: bytes) -> Any:
        return ExecutorRecord.model_validate_json(s)


def register_codecs() -> None:
    codecs.register(RECORD_CODEC, _RecordCodec())
