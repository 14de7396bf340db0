"""MI commands that wait on memory: MI_CONDITIONAL_BATCH_BUFFER_END and MI_SEMAPHORE_WAIT.

Both compare a dword in memory with an inline dword (gen8+ forms: a 48-bit address in DW2-3).
IGT's spinner (``igt_spin_new``, lib/igt_dummyload.c) ends every loop iteration with a
conditional end whose condition dword starts at 0xffffffff: the batch loops while the memory
value is *greater* than MI_BATCH_BUFFER_END (the strict comparison of gen6-gen9), and
``igt_spin_end`` stops it by writing MI_BATCH_BUFFER_END there, from the CPU or the GPU.

=========================  =====================================================================
command                    model
=========================  =====================================================================
MI_COND_BB_END (0x36)      compare (bit 21 set): memory > DW1 goes on, else the batch level
                           ends as at MI_BATCH_BUFFER_END; without bit 21 the memory dword is
                           compared with 0 (the form IGT never emits)
MI_SEMAPHORE_WAIT (0x1C)   waits until ``memory OP DW1`` holds (bits 14:12: 0 >, 1 >=, 2 <,
                           3 <=, 4 ==, 5 !=; other values hang the engine), re-reading memory at
                           each polling step (deadline and stop checks, then a back-off).  The
                           signal mode (bit 15 clear) waits the same way: a semaphore signal
                           only makes the hardware look sooner.
=========================  =====================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .hang import GpuHang

if TYPE_CHECKING:
    from .cmdparser import CsState
    from .mi import GpuMemory

__all__ = ["MI_DO_COMPARE", "OP_COND_BBE", "OP_SEMAPHORE_WAIT", "cond_bbe_ends",
           "semaphore_wait"]

OP_SEMAPHORE_WAIT = 0x1C
OP_COND_BBE = 0x36
MI_DO_COMPARE = 1 << 21
_ADDR_MASK = (1 << 48) - 1

_COMPARE: dict[int, Callable[[int, int], bool]] = {
    0: lambda mem, data: mem > data,
    1: lambda mem, data: mem >= data,
    2: lambda mem, data: mem < data,
    3: lambda mem, data: mem <= data,
    4: lambda mem, data: mem == data,
    5: lambda mem, data: mem != data,
}


def _memory_dword(vm: GpuMemory, cmd: list[int], align: int, what: str, pc: int) -> int:
    if len(cmd) < 4:
        raise GpuHang(f"{what} too short for the gen8+ form", pc)
    addr = ((cmd[3] & 0xFFFF) << 32 | cmd[2]) & _ADDR_MASK & ~align
    return int.from_bytes(vm.read(addr, 4).tobytes(), "little")


def cond_bbe_ends(vm: GpuMemory, cmd: list[int], pc: int) -> bool:
    """Whether MI_CONDITIONAL_BATCH_BUFFER_END ends the batch level here."""
    mem = _memory_dword(vm, cmd, 7, "MI_CONDITIONAL_BATCH_BUFFER_END", pc)
    data = cmd[1] if cmd[0] & MI_DO_COMPARE else 0
    return not mem > data


def semaphore_wait(vm: GpuMemory, cmd: list[int], state: CsState, pc: int) -> None:
    """MI_SEMAPHORE_WAIT: return once the comparison holds."""
    compare = _COMPARE.get((cmd[0] >> 12) & 7)
    if compare is None:
        raise GpuHang(f"MI_SEMAPHORE_WAIT compare operation {(cmd[0] >> 12) & 7}", pc)
    while not compare(_memory_dword(vm, cmd, 3, "MI_SEMAPHORE_WAIT", pc), cmd[1]):
        state.check(pc)
        state.backoff.pause()
