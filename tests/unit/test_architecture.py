"""The shape of the shipped code: which part may import which, with no cycles.

Read from the source with `ast` (imports inside functions count too), so the rules hold for every code
path, not only the ones a test happens to run:
- the function's package is layered: contract and model_format first, then core, engines, serving;
  building (the converter and parity tools, run at image build time) may use any of them, and nothing
  the image runs imports building;
- no import cycles anywhere in the shipped code (the function and the components);
- the function uses absolute imports only; the components, one package, relative ones among themselves.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from support import ROOT

PACKAGES = {
    "darknet_detector": ROOT / "container" / "darknet_detector",
    "darknet_lambda": ROOT / "components",
}
# Which parts of darknet_detector each part may import (itself included).
LAYERS = {
    "contract": set(),
    "model_format": set(),
    "core": {"contract", "core"},
    "engines": {"contract", "model_format", "core", "engines"},
    "serving": {"contract", "core", "engines", "serving"},
    "building": {"contract", "model_format", "core", "engines", "building"},
}


def module_name(package: str, path: Path) -> str:
    parts = list(path.relative_to(PACKAGES[package]).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([package, *parts])


def shipped_modules() -> dict[str, Path]:
    return {
        module_name(package, path): path
        for package, folder in PACKAGES.items()
        for path in sorted(folder.rglob("*.py"))
    }


MODULES = shipped_modules()


def imports_of(name: str, path: Path) -> list[tuple[str, int]]:
    """(module imported, level) for every import statement, resolved to modules of the shipped code."""
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import module` imports the module; `from module import name`, the module.
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.append((candidate if candidate in MODULES else base, node.level))
    return [(module, level) for module, level in found if module in MODULES]


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def part_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


def test_the_function_s_parts_import_only_the_parts_below_them():
    broken = []
    for module, imported in GRAPH.items():
        if not module.startswith("darknet_detector.") or module.count(".") == 0:
            continue
        allowed = LAYERS[part_of(module)]
        for target, _ in imported:
            if target.startswith("darknet_detector.") and part_of(target) not in allowed:
                broken.append(f"{module} imports {target}")
    assert broken == []


def test_nothing_the_image_runs_imports_the_model_building_tools():
    runtime = [m for m in GRAPH if m.startswith("darknet_detector") and part_of(m) != "building"]
    reached, todo = set(), list(runtime)
    while todo:
        module = todo.pop()
        for target, _ in GRAPH[module]:
            if target not in reached:
                reached.add(target)
                todo.append(target)
    assert sorted(m for m in reached if part_of(m) == "building" and m.startswith("darknet_detector")) == []


def test_the_shipped_code_has_no_import_cycles():
    cycles, state = [], {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target, _ in GRAPH[module]:
            if state.get(target) == "open":
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in GRAPH:
        if module not in state:
            visit(module, [module])
    assert cycles == []


@pytest.mark.parametrize(
    ("package", "style"), [("darknet_detector", "absolute"), ("darknet_lambda", "relative")]
)
def test_one_import_style_per_package(package, style):
    mixed = [
        f"{module} imports {target} {'relatively' if level else 'absolutely'}"
        for module, imported in GRAPH.items()
        if module.split(".")[0] == package
        for target, level in imported
        if target.split(".")[0] == package and bool(level) != (style == "relative")
    ]
    assert mixed == []


def test_the_rules_see_the_whole_tree():
    """A guard on the guards: the graph holds every part, and the parts really import each other."""
    parts = {part_of(m) for m in GRAPH if m.startswith("darknet_detector.")}
    assert parts == set(LAYERS)
    assert ("darknet_detector.core.pipeline", 0) in GRAPH["darknet_detector.serving.handler"]
    assert any(target.startswith("darknet_lambda.") for target, _ in GRAPH["darknet_lambda.service"])
