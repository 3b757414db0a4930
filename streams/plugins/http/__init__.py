"""HTTP tasks, registered under the `lanner.plugins` entry point `http`."""

from streams.plugins.base import Task
from streams.plugins.http.download import Download
from streams.plugins.http.request import Request

PLUGINS: list[type[Task]] = [Request, Download]
