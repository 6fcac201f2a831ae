"""`make detect IMAGE=path` with a path it cannot read: a one-line error and exit code 2, no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import ROOT

SCRIPTS = ROOT / "container" / "scripts"


@pytest.mark.parametrize("target", ["missing.jpg", "."], ids=["missing", "a-folder"])
def test_an_unreadable_image_path_is_a_clear_error(tmp_path, target):
    path = tmp_path / target
    done = subprocess.run(
        [sys.executable, "detect.py", str(path)], cwd=SCRIPTS, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"detect: cannot read {path}: "), done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
