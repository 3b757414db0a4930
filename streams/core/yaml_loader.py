"""A YAML loader that reads scalars the way Kestra's (Jackson) does, within limits.

PyYAML follows YAML 1.1, where `yes`, `no`, `on` and `off` are booleans: a task with
`id: no` or `message: off` would silently change meaning. Here only true/false are.

A flow's YAML comes from whoever holds a token, so what it may cost is bounded
(schemas/settings.py `Limits`): the source's size, the number of alias uses, the depth of
nesting, and the number of nodes the document stands for once every alias is expanded.
Ten levels of nine aliases each fit in 629 bytes and stand for 3.8 billion nodes; PyYAML
shares aliased nodes, but everything that walks the data afterwards (line maps, pydantic,
JSON) expands them. So the composer counts while it builds the node graph, before any
Python object is constructed, and stops at the first node past a limit, naming its line.
"""

from __future__ import annotations

import re

import yaml
from yaml.error import Mark
from yaml.events import AliasEvent

from schemas.limits import Limits


class YamlLimitExceeded(yaml.YAMLError):
    """The document goes past one of the limits; `limit` is the Limits field it broke."""

    def __init__(self, limit: str, line: int | None, message: str) -> None:
        env = f"LANNER_LIMITS_{limit.upper()}"
        super().__init__(f"{message} (limit {limit}, {env})")
        self.limit = limit
        self.line = line


def source_too_large(source: str, limits: Limits) -> YamlLimitExceeded | None:
    """The refusal of a source over `flow_source_bytes`, naming the line the limit falls on."""
    data = source.encode("utf-8", errors="surrogatepass")
    if len(data) <= limits.flow_source_bytes:
        return None
    line = data[: limits.flow_source_bytes].count(b"\n") + 1
    return YamlLimitExceeded(
        "flow_source_bytes",
        line,
        f"the flow's source is {len(data)} bytes, more than {limits.flow_source_bytes}",
    )


class FlowLoader(yaml.SafeLoader):
    def __init__(self, stream: str, limits: Limits) -> None:
        super().__init__(stream)
        self.limits = limits
        self._aliases = 0
        self._depth = 0
        # Expanded size (the node and everything under it, aliases counted in full) of
        # every node composed so far; an anchor still being composed has none yet.
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(AliasEvent):
            return self._alias(parent, index)
        self._depth += 1
        if self._depth > self.limits.yaml_depth:
            raise self._exceeded(
                "yaml_depth",
                self._next_mark(),
                f"the YAML nests more than {self.limits.yaml_depth} levels deep",
            )
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is None:
            return None
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._sizes[id(item)] for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        self._sized(node, size)
        return node

    def _next_mark(self) -> Mark:
        mark: Mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
        return mark

    def _alias(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        mark = self._next_mark()
        self._aliases += 1
        if self._aliases > self.limits.yaml_aliases:
            raise self._exceeded(
                "yaml_aliases", mark, f"the YAML uses more than {self.limits.yaml_aliases} aliases"
            )
        node = super().compose_node(parent, index)
        if node is not None and id(node) not in self._sizes:
            # `&a [*a]`: a node that contains itself expands without end.
            raise self._exceeded(
                "yaml_nodes",
                mark,
                "an alias refers to the node that contains it, which expands without end",
            )
        return node

    def _sized(self, node: yaml.Node, size: int) -> None:
        if size > self.limits.yaml_nodes:
            raise self._exceeded(
                "yaml_nodes",
                node.start_mark,
                f"the YAML expands to more than {self.limits.yaml_nodes} "
                "nodes once its aliases are expanded",
            )
        self._sizes[id(node)] = size

    @staticmethod
    def _exceeded(limit: str, mark: Mark, message: str) -> YamlLimitExceeded:
        return YamlLimitExceeded(limit, mark.line + 1, message)


FlowLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
FlowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_yaml(text: str, limits: Limits) -> object:
    """The document as Python data, refused (YamlLimitExceeded) past any of `limits`."""
    too_large = source_too_large(text, limits)
    if too_large is not None:
        raise too_large
    loader = FlowLoader(text, limits)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
