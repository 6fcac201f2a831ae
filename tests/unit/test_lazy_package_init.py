"""container/scripts/lazy-package-init.py: a package's names imported on first use, or the build stops."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
from support import ROOT
from support.scripts import load_script

lazy_package_init = load_script(ROOT / "container/scripts/lazy-package-init.py", "lazy_package_init")

EAGER_INIT = '''"""Shapes, re-exported."""

from .circle import Circle
from shapes.square import Square as Box, side

__all__ = ["Circle", "Box", "side"]
'''


def write_package(site: Path, init: str) -> Path:
    package = site / "shapes"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(init)
    (package / "circle.py").write_text("class Circle:\n    pass\n")
    (package / "square.py").write_text("class Square:\n    pass\n\n\ndef side():\n    return 2\n")
    return package / "__init__.py"


def run_in(site: Path, code: str) -> dict:
    command = [sys.executable, "-c", code]
    done = subprocess.run(command, env={"PYTHONPATH": str(site)}, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_each_name_is_imported_from_its_submodule_on_first_use(tmp_path):
    write_package(tmp_path, EAGER_INIT)

    lazy_package_init.main(str(tmp_path), ["shapes"])

    report = run_in(
        tmp_path,
        "import json, sys\n"
        "import shapes\n"
        "loaded = {m: m in sys.modules for m in ('shapes.circle', 'shapes.square')}\n"
        "from shapes import Box\n"
        "after_box = {m: m in sys.modules for m in ('shapes.circle', 'shapes.square')}\n"
        "import shapes.square\n"
        "try:\n"
        "    shapes.Triangle\n"
        "    missing = None\n"
        "except AttributeError as error:\n"
        "    missing = str(error)\n"
        "print(json.dumps({'loaded': loaded, 'after_box': after_box,\n"
        "    'same': Box is shapes.square.Square, 'side': shapes.side(), 'doc': shapes.__doc__,\n"
        "    'all': shapes.__all__, 'dir': 'Circle' in dir(shapes), 'missing': missing}))",
    )
    assert report["loaded"] == {"shapes.circle": False, "shapes.square": False}
    assert report["after_box"] == {"shapes.circle": False, "shapes.square": True}
    assert report["same"] is True
    assert report["side"] == 2
    assert report["doc"] == "Shapes, re-exported."
    assert report["all"] == ["Circle", "Box", "side"]
    assert report["dir"] is True
    assert report["missing"] == "module 'shapes' has no attribute 'Triangle'"


@pytest.mark.parametrize(
    ("extra", "reported"),
    [
        ('VERSION = "1.0"\n', "line 8: VERSION = '1.0'"),
        ("from . import circle\n", "line 8: from . import circle"),
        ("from .circle import *\n", "line 8: a star import's names are not known"),
        ("if True:\n    from .circle import Circle as Round\n", "line 8: if True:"),
        ('__all__ = ["Circle", "Oval"]\n', "__all__ names what no import defines: Oval"),
    ],
)
def test_an_init_that_does_more_than_re_export_stops_the_build_unchanged(tmp_path, extra, reported):
    init = write_package(tmp_path, EAGER_INIT + "\n" + extra)

    with pytest.raises(SystemExit) as stopped:
        lazy_package_init.main(str(tmp_path), ["shapes"])

    assert str(stopped.value).endswith(f"not rewritten: {reported}")
    assert init.read_text() == EAGER_INIT + "\n" + extra


def test_a_name_its_submodule_does_not_define_stops_the_build(tmp_path):
    write_package(tmp_path, EAGER_INIT.replace("side", "corner"))

    with pytest.raises(subprocess.CalledProcessError):
        lazy_package_init.main(str(tmp_path), ["shapes"])


@pytest.mark.parametrize(
    "package", ["aws_lambda_powertools.event_handler", "aws_lambda_powertools.utilities.data_classes"]
)
def test_powertools_packages_rewritten_give_the_same_objects(package):
    """The packages the image rewrites (install-python-deps.sh), from the installed Powertools' sources."""
    eager = importlib.import_module(package)
    assert eager.__file__ is not None
    lazy = types.ModuleType(package)
    lazy.__file__ = eager.__file__
    exec(lazy_package_init.lazy_init(Path(eager.__file__).read_text(), package), lazy.__dict__)

    assert lazy.__all__ == eager.__all__
    assert set(eager.__all__) <= set(lazy._SOURCES)
    for name in lazy._SOURCES:
        assert getattr(lazy, name) is getattr(eager, name), name
