"""`python -m api.web.openapi_dump [flow-schema]`: the API's OpenAPI document (or the flow
JSON Schema) on stdout, without starting anything: the web UI's build generates its
client types and its editor's completions from them."""

from __future__ import annotations

import json
import sys

from api.web.app import create_app
from schemas.settings import LannerSettings
from streams.plugins.jsonschema import flow_json_schema
from streams.plugins.registry import PluginRegistry


def main(argv: list[str]) -> None:
    if argv[:1] == ["flow-schema"]:
        document = flow_json_schema(PluginRegistry.discover())
    else:
        document = create_app(LannerSettings()).openapi()
    json.dump(document, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
