"""Rewrite a package's __init__.py that only re-exports names so that each name is imported on first use.

usage: python3 lazy-package-init.py SITE_PACKAGES PACKAGE...

Some packages' __init__.py import every submodule to re-export its names: Powertools' event_handler
imports the AppSync resolver, and with it asyncio, for a function that serves API Gateway only. The
rewritten __init__.py keeps the docstring and __all__ and resolves each name through a module
__getattr__ (PEP 562) from the submodule the original imported it from. An __init__.py that does more
than import names, set __all__ and carry a docstring stops the build: it is not rewritten on a guess.
After writing, every package is imported in a fresh interpreter, with its SITE_PACKAGES first on the
path, and each of its names resolved, so a name that no longer resolves stops the build too.
"""

import ast
import pprint
import subprocess
import sys
from pathlib import Path

TEMPLATE = """{docstring!r}

# Rewritten by the image build (container/scripts/lazy-package-init.py) from the package's own
# __init__.py, which imported every name below eagerly: each is now imported on first use.
import importlib

__all__ = {all_names}

_SOURCES = {sources}


def __getattr__(name):
    try:
        module, attribute = _SOURCES[name]
    except KeyError:
        raise AttributeError(f"module {{__name__!r}} has no attribute {{name!r}}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_SOURCES))
"""


class NotOnlyImports(Exception):
    """The __init__.py does something besides importing names, so deferring its imports could change it."""


def lazy_init(source: str, package: str) -> str:
    """The lazy __init__.py for package, whose eager __init__.py is source."""
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree, clean=False) or ""
    sources: dict[str, tuple[str, str]] = {}
    all_names: list[str] | None = None
    for index, statement in enumerate(tree.body):
        if index == 0 and docstring and isinstance(statement, ast.Expr):
            continue
        if isinstance(statement, ast.ImportFrom) and statement.module and statement.level in (0, 1):
            module = statement.module if statement.level == 0 else f"{package}.{statement.module}"
            for alias in statement.names:
                if alias.name == "*":
                    raise NotOnlyImports(f"line {statement.lineno}: a star import's names are not known")
                sources[alias.asname or alias.name] = (module, alias.name)
            continue
        if (
            isinstance(statement, ast.Assign)
            and [getattr(target, "id", None) for target in statement.targets] == ["__all__"]
            and isinstance(statement.value, (ast.List, ast.Tuple))
        ):
            all_names = [ast.literal_eval(element) for element in statement.value.elts]
            continue
        raise NotOnlyImports(f"line {statement.lineno}: {ast.unparse(statement).splitlines()[0]}")
    if all_names is None:
        raise NotOnlyImports("no __all__")
    missing = sorted(set(all_names) - set(sources))
    if missing:
        raise NotOnlyImports(f"__all__ names what no import defines: {', '.join(missing)}")
    return TEMPLATE.format(
        docstring=docstring,
        all_names=pprint.pformat(all_names, width=100),
        sources=pprint.pformat(sources, width=100, sort_dicts=False),
    )


CHECK = """
import importlib, sys
package = importlib.import_module(sys.argv[1])
for name in package._SOURCES:
    getattr(package, name)
"""


def main(site_packages: str, packages: list[str]) -> None:
    for package in packages:
        init = Path(site_packages, *package.split("."), "__init__.py")
        try:
            lazy = lazy_init(init.read_text(), package)
        except NotOnlyImports as error:
            sys.exit(f"{init}: not rewritten: {error}")
        init.write_text(lazy)
        subprocess.run(
            [sys.executable, "-c", CHECK, package],
            env={"PYTHONPATH": site_packages},
            check=True,
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
