"""Strip the shared libraries under each FOLDER of their symbol tables, but only where the result still loads.

usage: python3 strip-loadable.py FOLDER...

Wheels built with auditwheel carry libraries that patchelf rewrote (their own and the ones grafted into
`*.libs/`), and binutils' strip can move such a file's sections so that a LOAD segment's file offset and
address no longer agree modulo its alignment: the dynamic loader then refuses it ("ELF load command
address/offset not page-aligned"; pypa/auditwheel#716, NixOS/patchelf#10). numpy's arm64 wheel, whose
OpenBLAS is such a library, is one. Each library is therefore stripped into a copy that replaces it only
if every LOAD segment of the copy still agrees; a library that would not is kept as it was, and named.
"""

import os
import struct
import subprocess
import sys
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
PT_LOAD = 1


def load_segments_agree(path: Path) -> bool:
    """Whether each LOAD segment's offset and virtual address are congruent modulo its alignment."""
    data = path.read_bytes()
    if data[:4] != ELF_MAGIC:
        return False
    wide, order = data[4] == 2, "<" if data[5] == 1 else ">"
    # The program header table's place, entry size and count, and where in an entry (its fields as the
    # ELF class lays them out) the offset, the virtual address and the alignment are.
    if wide:
        (phoff,) = struct.unpack_from(order + "Q", data, 0x20)
        entry_size, count = struct.unpack_from(order + "HH", data, 0x36)
        layout, fields = order + "IIQQQQQQ", (2, 3, 7)  # type flags OFFSET VADDR paddr filesz memsz ALIGN
    else:
        (phoff,) = struct.unpack_from(order + "I", data, 0x1C)
        entry_size, count = struct.unpack_from(order + "HH", data, 0x2A)
        layout, fields = order + "IIIIIIII", (1, 2, 7)  # type OFFSET VADDR paddr filesz memsz flags ALIGN
    for index in range(count):
        header = struct.unpack_from(layout, data, phoff + index * entry_size)
        offset, address, alignment = (header[field] for field in fields)
        if header[0] == PT_LOAD and alignment > 1 and (address - offset) % alignment:
            return False
    return True


def strip_loadable(library: Path) -> bool:
    """Strip library in place if the stripped copy keeps its LOAD segments aligned; False if it was kept."""
    stripped = library.with_name(library.name + ".stripped")
    subprocess.run(["strip", "--strip-unneeded", "-o", str(stripped), str(library)], check=True)
    if not load_segments_agree(stripped):
        stripped.unlink()
        return False
    os.chmod(stripped, library.stat().st_mode)
    stripped.replace(library)
    return True


def is_elf(path: Path) -> bool:
    if not path.is_file() or path.is_symlink():
        return False
    with path.open("rb") as file:
        return file.read(4) == ELF_MAGIC


def main(folders: list[str]) -> None:
    for folder in folders:
        for library in sorted(Path(folder).rglob("*.so*")):
            if is_elf(library) and not strip_loadable(library):
                print(f"strip-loadable: kept unstripped, stripping misaligns it: {library}")


if __name__ == "__main__":
    main(sys.argv[1:])
