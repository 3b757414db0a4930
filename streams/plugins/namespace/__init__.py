"""Namespace files, registered under the `lanner.plugins` entry point `namespace`: the
UploadFiles/DownloadFiles/DeleteFiles tasks; the store, its events and view, and the
`namespaceFiles` property of script tasks live beside them."""

from streams.plugins.base import Task
from streams.plugins.namespace.tasks import DeleteFiles, DownloadFiles, UploadFiles

PLUGINS: list[type[Task]] = [UploadFiles, DownloadFiles, DeleteFiles]
