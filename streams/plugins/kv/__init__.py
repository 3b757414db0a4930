"""Key-value store tasks, registered under the `lanner.plugins` entry point `kv`."""

from streams.plugins.base import Task
from streams.plugins.kv.tasks import KvDeleteTask, KvGetKeysTask, KvGetTask, KvSetTask

PLUGINS: list[type[Task]] = [KvSetTask, KvGetTask, KvDeleteTask, KvGetKeysTask]
