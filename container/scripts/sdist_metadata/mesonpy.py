"""Stands in for meson-python's build hooks while the host downloads numpy's sdist (build-image.sh).

`pip download` prepares the metadata of an sdist before it saves it, even with --no-deps, and meson-python
has no metadata hook: pip would compile the whole of numpy (minutes) only to read a name and a version.
numpy's PKG-INFO already holds its complete metadata (version 2.4, no dynamic fields): this hook hands it
over. It never builds anything; the image's build compiles numpy with the real meson-python.
"""

from email.parser import Parser
from pathlib import Path


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: object = None) -> str:
    """Write the sdist's PKG-INFO (pip runs this in the unpacked sdist) as the wheel's METADATA."""
    text = Path("PKG-INFO").read_text(encoding="utf-8")
    metadata = Parser().parsestr(text, headersonly=True)
    dynamic = metadata.get_all("Dynamic")
    if dynamic:
        raise RuntimeError(f"{metadata['Name']}'s PKG-INFO leaves {dynamic} to the build")
    dist_info = Path(metadata_directory) / f"{metadata['Name']}-{metadata['Version']}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(text, encoding="utf-8")
    return dist_info.name
