"""The CPU fact ONNX Runtime's convolution layout depends on, read with CPUID as ONNX Runtime reads it.

At ORT_ENABLE_ALL, ONNX Runtime rewrites convolutions to MLAS's blocked NCHWc layout, whose block width
MLAS picks once per process from CPUID and XGETBV (onnxruntime/core/mlas/lib/platform.cpp): 16 floats
when the CPU has AVX2, FMA and AVX-512F and the OS saves the AVX-512 registers (XCR0 bits 5-7), 8 on
any other x86-64 CPU. A graph saved after that rewrite is only valid where the width is the same.

CPUID is executed directly rather than read from /proc/cpuinfo: an emulator (qemu-user) or a hypervisor
may show the process a CPU other than the one the kernel describes, and CPUID is what MLAS itself sees.
"""

from __future__ import annotations

import ctypes
import mmap
import platform

X86_64 = ("x86_64", "AMD64")

# cpuid(leaf=edi, subleaf=esi, out=rdx): eax, ebx, ecx, edx to out[0..3] (rbx is callee-saved).
_CPUID_CODE = bytes.fromhex("53 89f8 89f1 4989d0 0fa2 418900 41895804 41894808 4189500c 5b c3")
# xgetbv(register=edi) -> edx:eax as one 64-bit value.
_XGETBV_CODE = bytes.fromhex("89f9 0f01d0 48c1e220 4809d0 c3")

# CPUID leaf 1 ECX and leaf 7 EBX feature bits, and XCR0's saved-state bits, as platform.cpp tests them.
FMA = 1 << 12
OSXSAVE_AND_AVX = (1 << 27) | (1 << 28)
AVX2 = 1 << 5
AVX512F = 1 << 16
XCR0_AVX_STATE = 0x6
XCR0_AVX512_STATE = 0xE0


def nchwc_block_size(leaf1_ecx: int, leaf7_ebx: int, xcr0: int) -> int:
    """MLAS's NCHWc block width on x86-64 for these CPUID and XCR0 values."""
    avx_usable = leaf1_ecx & OSXSAVE_AND_AVX == OSXSAVE_AND_AVX and xcr0 & XCR0_AVX_STATE == XCR0_AVX_STATE
    avx2_fma = avx_usable and leaf1_ecx & FMA and leaf7_ebx & AVX2
    if avx2_fma and leaf7_ebx & AVX512F and xcr0 & XCR0_AVX512_STATE == XCR0_AVX512_STATE:
        return 16
    return 8


class _MachineCode:
    """A few bytes of x86-64 code mapped executable and callable through ctypes."""

    def __init__(self, code: bytes):
        self._memory = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self._memory.write(code)
        address = ctypes.addressof(ctypes.c_char.from_buffer(self._memory))
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        if libc.mprotect(address, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_EXEC) != 0:
            raise OSError(ctypes.get_errno(), "mprotect refused an executable page")
        self.address = address


def read_nchwc_block_size() -> int | None:
    """This CPU's NCHWc block width as MLAS will choose it; None off x86-64 or if CPUID cannot run."""
    if platform.machine() not in X86_64:
        return None
    try:
        cpuid_code, xgetbv_code = _MachineCode(_CPUID_CODE), _MachineCode(_XGETBV_CODE)
    except (OSError, ValueError, AttributeError):
        return None
    cpuid = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint32, ctypes.POINTER(ctypes.c_uint32))(
        cpuid_code.address
    )
    registers = (ctypes.c_uint32 * 4)()
    cpuid(0, 0, registers)
    max_leaf = registers[0]
    cpuid(1, 0, registers)
    leaf1_ecx = registers[2]
    leaf7_ebx = 0
    if max_leaf >= 7:
        cpuid(7, 0, registers)
        leaf7_ebx = registers[1]
    xcr0 = 0
    if leaf1_ecx & OSXSAVE_AND_AVX == OSXSAVE_AND_AVX:  # XGETBV faults unless the OS enabled XSAVE
        xcr0 = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint32)(xgetbv_code.address)(0)
    return nchwc_block_size(leaf1_ecx, leaf7_ebx, xcr0)
