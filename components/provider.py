"""Serves the components to every Pulumi language as a source-based component package.

`provider/PulumiPlugin.yaml` (runtime: python) runs `main()`; Pulumi's provider host infers the schema
from the components' type annotations and docstrings, and passes each component its inputs as plain
dicts, which the components turn into their Args classes with the same defaults and checks as in
Python. The inference knows nothing of dataclass defaults (it requires every field whose type is not
Optional), so each input with a default is made optional here, and the default is written into the
schema, both taken from the Args dataclass.
"""

import dataclasses
import json
import sys
from typing import Any

from pulumi.provider import main as serve
from pulumi.provider.experimental.analyzer import PropertyDefinition
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.experimental.schema import generate_schema

from darknet_detector.contract import VERSION

from . import COMPONENTS

PACKAGE = "darknet"


class DarknetProvider(ComponentProvider):
    """Pulumi's component provider over the components, its schema completed with the Args' defaults."""

    def __init__(self) -> None:
        super().__init__(list(COMPONENTS), PACKAGE, version=VERSION)
        defaults: dict[str, dict[str, Any]] = {}
        for name, component in self._components.items():
            args_type = component.__init__.__annotations__["args"]
            defaults[name] = _with_defaults(self._component_defs[name].inputs, args_type)
        for type_definition in self._type_defs.values():
            defaults[type_definition.name] = _with_defaults(
                type_definition.properties, type_definition.python_type
            )

        schema = generate_schema(
            PACKAGE, VERSION, None, self._component_defs, self._type_defs, self._dependencies
        ).to_json()
        for name in self._components:
            resource = schema["resources"][f"{PACKAGE}:index:{name}"]
            _describe(resource["inputProperties"], defaults[name])
            _describe(resource.get("properties", {}), {})
        for type_definition in self._type_defs.values():
            _describe(
                schema["types"][f"{PACKAGE}:index:{type_definition.name}"]["properties"],
                defaults[type_definition.name],
            )
        self.schema = json.dumps(schema)


def _with_defaults(properties: dict[str, PropertyDefinition], args_type: type) -> dict[str, Any]:
    """Marks the fields that have a default optional; returns the plain defaults by schema name."""
    plain_defaults = {}
    for field in dataclasses.fields(args_type):
        name = _schema_name(field.name)
        if field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING:
            properties[name].optional = True
        if isinstance(field.default, str | int | float | bool):
            plain_defaults[name] = field.default
    return plain_defaults


def _describe(properties: dict[str, dict[str, Any]], defaults: dict[str, Any]) -> None:
    """Adds the defaults; docstrings keep their source indentation, the schema's descriptions are prose."""
    for name, spec in properties.items():
        if name in defaults:
            spec["default"] = defaults[name]
        for part in (spec, spec.get("additionalProperties") or {}, spec.get("items") or {}):
            if "description" in part:
                part["description"] = " ".join(part["description"].split())


def _schema_name(python_name: str) -> str:
    head, *rest = python_name.split("_")
    return head + "".join(part.title() for part in rest)


def main() -> None:
    serve(DarknetProvider(), sys.argv[1:])
