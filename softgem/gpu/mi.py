"""MI_* commands (the "memory interface" client, bits 31:29 = 0): encodings and execution.

Encodings are the gen8+ ones of ``gt/intel_gpu_commands.h`` and IGT ``lib/intel_reg.h``:
``MI_INSTR(opcode, flags) = opcode << 23 | flags``; a command's length field counts its
dwords minus two.  Control flow (NOOP, BATCH_BUFFER_START/END, ARB_CHECK) is handled by the
parser loop in :mod:`.cmdparser`; this module executes the commands that touch memory or
registers (the register file, MI_MATH and the register moves: :mod:`.mi_math`), and offers encoders (``store_dword_imm(...)``) that tests, the benchmark and the
demo use to build batches exactly as IGT does.

Addresses are 48-bit GPU virtual addresses in the request's address space.  The "use GGTT"
bits (MI_USE_GGTT, MI_FLUSH_DW_USE_GTT, the BB_START address-space bit) are ignored: a
non-privileged batch on gen8+ cannot reach the GGTT, so every access goes through the
context's PPGTT (the kernel only lets privileged batches use GGTT addressing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from .hang import GpuHang
from .mi_math import read_register, write_register

if TYPE_CHECKING:
    from .cmdparser import CsState

__all__ = [
    "ADDR_MASK", "GpuMemory", "MI_ARB_CHECK", "MI_ARB_ON_OFF", "MI_BATCH_BUFFER_END",
    "MI_BATCH_BUFFER_START_GEN8", "MI_BATCH_PPGTT", "MI_BATCH_SECOND_LEVEL", "MI_FLUSH_DW",
    "MI_FLUSH_DW_OP_STAMP", "MI_FLUSH_DW_OP_STOREDW", "MI_LOAD_REGISTER_IMM", "MI_NOOP",
    "MI_STORE_DWORD_IMM_GEN4", "MI_STORE_QWORD_IMM_GEN8", "MI_STORE_REGISTER_MEM_GEN8",
    "MI_USER_INTERRUPT", "batch_buffer_start", "flush_dw", "load_register_imm",
    "mi_instr", "store_dword_imm", "store_qword_imm", "store_register_mem",
]

ADDR_MASK = (1 << 48) - 1


def mi_instr(opcode: int, flags: int = 0) -> int:
    return (opcode << 23) | flags


MI_NOOP = mi_instr(0x00)
MI_USER_INTERRUPT = mi_instr(0x02)
MI_ARB_CHECK = mi_instr(0x05)
MI_ARB_ON_OFF = mi_instr(0x08)
MI_BATCH_BUFFER_END = mi_instr(0x0A)
MI_LOAD_REGISTER_IMM_OP = 0x22
MI_STORE_DWORD_IMM_GEN4 = mi_instr(0x20, 2)
MI_STORE_QWORD_IMM_GEN8 = mi_instr(0x20, 3) | (1 << 21)
MI_STORE_REGISTER_MEM_GEN8 = mi_instr(0x24, 2)
MI_FLUSH_DW = mi_instr(0x26, 1)
MI_BATCH_BUFFER_START_GEN8 = mi_instr(0x31, 1)

MI_USE_GGTT = 1 << 22
MI_STORE_QWORD = 1 << 21
MI_FLUSH_DW_STORE_INDEX = 1 << 21
MI_FLUSH_DW_OP_STOREDW = 1 << 14
MI_FLUSH_DW_OP_STAMP = 3 << 14
MI_FLUSH_DW_OP_MASK = 3 << 14
MI_FLUSH_DW_USE_GTT = 1 << 2
MI_BATCH_SECOND_LEVEL = 1 << 22
MI_BATCH_PPGTT = 1 << 8


def MI_LOAD_REGISTER_IMM(n: int) -> int:  # the C macro's name
    """Header of an LRI loading ``n`` registers."""
    return mi_instr(MI_LOAD_REGISTER_IMM_OP, 2 * n - 1)


class GpuMemory(Protocol):
    """The GPU's view of memory: an ``AddressSpace`` (see gpu/vm.py)."""

    flat: npt.NDArray[np.uint8]

    def resolve(self, gpu_addr: int, length: int, write: bool = False
                ) -> list[tuple[int, int, bool]]: ...

    def read(self, gpu_addr: int, n: int) -> npt.NDArray[np.uint8]: ...

    def write(self, gpu_addr: int, data: object) -> None: ...

    def vma_at(self, gpu_addr: int) -> Any: ...


# -- encoders (IGT's batch layouts) ---------------------------------------------------------
def _lo_hi(addr: int) -> list[int]:
    return [addr & 0xFFFFFFFF, (addr >> 32) & 0xFFFF]


def store_dword_imm(addr: int, value: int) -> list[int]:
    """MI_STORE_DWORD_IMM_GEN4 in its gen8+ form: header, address lo, hi, value."""
    return [MI_STORE_DWORD_IMM_GEN4, *_lo_hi(addr), value & 0xFFFFFFFF]


def store_qword_imm(addr: int, value: int) -> list[int]:
    return [MI_STORE_QWORD_IMM_GEN8, *_lo_hi(addr), value & 0xFFFFFFFF,
            (value >> 32) & 0xFFFFFFFF]


def batch_buffer_start(addr: int, *, second_level: bool = False) -> list[int]:
    """MI_BATCH_BUFFER_START as IGT emits it on gen8+ (PPGTT bit, 64-bit address)."""
    flags = MI_BATCH_PPGTT | (MI_BATCH_SECOND_LEVEL if second_level else 0)
    return [MI_BATCH_BUFFER_START_GEN8 | flags, *_lo_hi(addr)]


def flush_dw(addr: int = 0, value: int | None = None) -> list[int]:
    """MI_FLUSH_DW, with a post-sync dword store of ``value`` at ``addr`` if given."""
    if value is None:
        return [MI_FLUSH_DW + 1, 0, 0, 0]
    return [MI_FLUSH_DW + 1 | MI_FLUSH_DW_OP_STOREDW, *_lo_hi(addr), value & 0xFFFFFFFF]


def load_register_imm(pairs: list[tuple[int, int]]) -> list[int]:
    out = [MI_LOAD_REGISTER_IMM(len(pairs))]
    for reg, value in pairs:
        out += [reg, value & 0xFFFFFFFF]
    return out


def store_register_mem(reg: int, addr: int) -> list[int]:
    return [MI_STORE_REGISTER_MEM_GEN8, reg, *_lo_hi(addr)]


# -- execution ----------------------------------------------------------------------------
def _addr(lo: int, hi: int, align_mask: int) -> int:
    return ((hi & 0xFFFF) << 32 | lo) & ADDR_MASK & ~align_mask


def _store(vm: GpuMemory, addr: int, dwords: list[int]) -> None:
    vm.write(addr, np.array(dwords, dtype="<u4").view(np.uint8))


def exec_store_dword_imm(vm: GpuMemory, cmd: list[int], state: CsState, pc: int) -> None:
    """MI_STORE_DATA_IMM: one dword, a qword (bit 21), or several dwords in a row."""
    if len(cmd) < 4:
        raise GpuHang("MI_STORE_DATA_IMM too short for the gen8+ form", pc)
    qword = bool(cmd[0] & MI_STORE_QWORD)
    if qword and len(cmd) != 5:
        raise GpuHang("MI_STORE_QWORD_IMM without two data dwords", pc)
    _store(vm, _addr(cmd[1], cmd[2], 7 if qword else 3), cmd[3:])
    state.bytes_written += 4 * (len(cmd) - 3)


def exec_flush_dw(vm: GpuMemory, cmd: list[int], state: CsState, pc: int) -> None:
    """MI_FLUSH_DW: caches are coherent here; only the post-sync write does something."""
    op = cmd[0] & MI_FLUSH_DW_OP_MASK
    if op == 0 or cmd[0] & MI_FLUSH_DW_STORE_INDEX:
        return      # no post-sync op, or a store into the (unmodelled) status page
    if len(cmd) < 4:
        raise GpuHang("MI_FLUSH_DW post-sync write without an address", pc)
    addr = _addr(cmd[1], cmd[2], 7)
    if op == MI_FLUSH_DW_OP_STOREDW:
        _store(vm, addr, cmd[3:5])
    elif op == MI_FLUSH_DW_OP_STAMP:
        stamp = state.timestamp()
        _store(vm, addr, [stamp & 0xFFFFFFFF, stamp >> 32])


def exec_load_register_imm(vm: GpuMemory, cmd: list[int], state: CsState, pc: int) -> None:
    """MI_LOAD_REGISTER_IMM: into the engine's register file (:mod:`.mi_math`)."""
    for i in range(1, len(cmd) - 1, 2):
        write_register(state, cmd[i], cmd[i + 1])


def exec_store_register_mem(vm: GpuMemory, cmd: list[int], state: CsState, pc: int) -> None:
    if len(cmd) < 4:
        raise GpuHang("MI_STORE_REGISTER_MEM too short for the gen8+ form", pc)
    _store(vm, _addr(cmd[2], cmd[3], 3), [read_register(state, cmd[1])])
