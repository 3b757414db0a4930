"""Elasticsearch tasks (io.kestra.plugin.elasticsearch.*), registered under the
`lanner.plugins` entry point `elasticsearch`."""

from streams.plugins.base import Task
from streams.plugins.elasticsearch.documents import Get, Put, Request
from streams.plugins.elasticsearch.load import Bulk, Load
from streams.plugins.elasticsearch.search import Scroll, Search

PLUGINS: list[type[Task]] = [Search, Scroll, Get, Put, Bulk, Load, Request]
