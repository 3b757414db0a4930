"""A YAML loader that reads scalars the way Kestra's (Jackson) does.

PyYAML follows YAML 1.1, where `yes`, `no`, `on` and `off` are booleans: a task with
`id: no` or `message: off` would silently change meaning. Here only true/false are.
"""

from __future__ import annotations

import re

import yaml


class FlowLoader(yaml.SafeLoader):
    pass


FlowLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
FlowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_yaml(text: str) -> object:
    return yaml.load(text, Loader=FlowLoader)
