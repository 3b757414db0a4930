"""Internal storage: files travel in events as `kestra://` URIs, never as payloads.

Storage            the port (schemas/storage.py); LocalStorage is the default back end
storage_from_env   the back end this process is configured with
task_file_uri      where a task run's output file lives
spill_outputs      replace outputs too big for an event by URIs of stored JSON
"""

from schemas.storage import (
    SCHEME,
    Storage,
    StorageError,
    is_storage_uri,
    task_file_uri,
    task_prefix,
)
from streams.storage.config import storage_from_env
from streams.storage.local import LocalStorage
from streams.storage.spill import spill_outputs

__all__ = [
    "SCHEME",
    "LocalStorage",
    "Storage",
    "StorageError",
    "is_storage_uri",
    "spill_outputs",
    "storage_from_env",
    "task_file_uri",
    "task_prefix",
]
