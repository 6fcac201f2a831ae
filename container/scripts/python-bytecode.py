"""Replace the Python sources under each FOLDER of the root file system ROOT by their bytecode.

usage: python3 python-bytecode.py ROOT FOLDER...

Each module's .pyc is written where its .py was (the sourceless layout), recording the path the image
sees, and the .py goes: imports read the same bytecode they would have read from __pycache__, and the
code takes half the room. The image never changes these files, so nothing can go stale. Run by the
interpreter the image runs, whose bytecode format it must be. A file that does not compile keeps its source.
"""

import compileall
import shutil
import sys
from pathlib import Path


def main(root: str, folders: list[str]) -> None:
    for folder in folders:
        path = Path(root) / folder.lstrip("/")
        compileall.compile_dir(path, quiet=1, legacy=True, stripdir=root, prependdir="/", workers=0)
        for source in path.rglob("*.py"):
            if source.with_suffix(".pyc").is_file():
                source.unlink()
        for cache in list(path.rglob("__pycache__")):
            shutil.rmtree(cache)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
