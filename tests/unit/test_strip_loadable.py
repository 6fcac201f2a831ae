"""container/scripts/strip-loadable.py: symbol tables go, but never so that the loader refuses the library."""

from __future__ import annotations

import _ctypes
import ctypes
import shutil
import struct
from pathlib import Path

import pytest
from support import ROOT
from support.scripts import load_script

strip_loadable = load_script(ROOT / "container/scripts/strip-loadable.py", "strip_loadable")


def elf(segments: list[tuple[int, int, int, int]], wide: bool = True) -> bytes:
    """An ELF header and program headers only: (type, offset, address, alignment) per segment."""
    if wide:
        header = (
            b"\x7fELF\x02\x01\x01"
            + bytes(9)
            + struct.pack("<HHIQQQIHHHHHH", 3, 183, 1, 0, 64, 0, 0, 64, 56, len(segments), 64, 0, 0)
        )
        table = b"".join(
            struct.pack("<IIQQQQQQ", kind, 5, offset, address, address, 16, 16, align)
            for kind, offset, address, align in segments
        )
    else:
        header = (
            b"\x7fELF\x01\x01\x01"
            + bytes(9)
            + struct.pack("<HHIIIIIHHHHHH", 3, 40, 1, 0, 52, 0, 0, 52, 32, len(segments), 40, 0, 0)
        )
        table = b"".join(
            struct.pack("<IIIIIIII", kind, offset, address, address, 16, 16, 5, align)
            for kind, offset, address, align in segments
        )
    return header + table


@pytest.mark.parametrize("wide", [True, False])
@pytest.mark.parametrize(
    ("segments", "agree"),
    [
        ([(1, 0, 0, 0x10000), (1, 0x3F4C0, 0x4F4C0, 0x10000)], True),
        ([(1, 0, 0, 0x10000), (1, 0x3F4C0, 0x4E4C0, 0x10000)], False),  # 4 KB off a 64 KB alignment
        ([(1, 0, 0, 0x1000), (4, 0x123, 0x456, 0x1000)], True),  # a NOTE segment is not loaded
        ([(1, 0x20, 0x10, 0)], True),  # alignment 0: no constraint
    ],
)
def test_load_segments_agree_reads_each_load_segments_offset_address_and_alignment(
    tmp_path, segments, agree, wide
):
    library = tmp_path / "library.so"
    library.write_bytes(elf(segments, wide))

    assert strip_loadable.load_segments_agree(library) is agree


def test_a_library_that_stays_aligned_is_stripped_and_still_loads(tmp_path):
    """A real extension module of this interpreter, through the real strip."""
    library = tmp_path / Path(_ctypes.__file__).name
    shutil.copy(_ctypes.__file__, library)

    assert strip_loadable.strip_loadable(library) is True

    assert strip_loadable.load_segments_agree(library)
    assert library.stat().st_size <= Path(_ctypes.__file__).stat().st_size
    ctypes.CDLL(str(library))
    assert sorted(path.name for path in tmp_path.iterdir()) == [library.name]


def test_a_library_whose_stripped_copy_would_not_load_is_kept_as_it_was(tmp_path, monkeypatch, capsys):
    original = elf([(1, 0, 0, 0x10000), (1, 0x3F4C0, 0x4F4C0, 0x10000)])
    library = tmp_path / "lib" / "libopenblas.so.0"
    library.parent.mkdir()
    library.write_bytes(original)

    def misaligning_strip(command, check):
        Path(command[command.index("-o") + 1]).write_bytes(
            elf([(1, 0, 0, 0x10000), (1, 0x3E4C0, 0x4F4C0, 0x10000)])
        )

    monkeypatch.setattr(strip_loadable.subprocess, "run", misaligning_strip)
    strip_loadable.main([str(tmp_path)])

    assert library.read_bytes() == original
    assert sorted(path.name for path in library.parent.iterdir()) == [library.name]
    assert capsys.readouterr().out == f"strip-loadable: kept unstripped, stripping misaligns it: {library}\n"


def test_files_that_are_not_elf_are_left_alone(tmp_path):
    (tmp_path / "notes.so.txt").write_text("not a library")

    strip_loadable.main([str(tmp_path)])

    assert (tmp_path / "notes.so.txt").read_text() == "not a library"
