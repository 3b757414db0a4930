"""Faust codecs for the executor's table: values stay Python objects in memory and are
JSON only on the changelog, so the hot path never re-parses an execution. Read back
(from the changelog, or from RocksDB) they stay bytes: the table's reader knows which
part of a record a key holds (streams/app/record_table.py)."""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs
from pydantic import BaseModel

RECORD_CODEC = "lanner_record"


class _RecordCodec(codecs.Codec):
    def _dumps(self, obj: Any) -> bytes:
        assert isinstance(obj, BaseModel)
        return obj.model_dump_json().encode()

    def _loads(self, s: bytes) -> Any:
        return s


def register_codecs() -> None:
    codecs.register(RECORD_CODEC, _RecordCodec())
