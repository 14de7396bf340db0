"""The command streamer: fetch, decode and execute gen9 commands through a GPU address space.

:func:`execute` runs one batch the way the hardware's command streamer does: it fetches dwords
through the request's page tables (never through CPU mappings), decodes the client (bits
31:29) and opcode, executes, and follows MI_BATCH_BUFFER_START until the first-level
MI_BATCH_BUFFER_END.  The batch length given at execbuf does not bound execution (on gen9 the
hardware ignores it; only the kernel's command parser, not modelled, reads it): a batch
without an end runs on into whatever follows.

Control flow, as on gen8+:

=================================  ===========================================================
command                            effect
=================================  ===========================================================
MI_BATCH_BUFFER_START (1st level)  chain: continue at the target (the return stack is cleared)
MI_BATCH_BUFFER_START (bit 22)     call a second-level batch; from a second-level batch it
                                   chains at the second level (gen9 nests two levels)
MI_BATCH_BUFFER_END                return from a second-level batch, else the batch is done
MI_CONDITIONAL_BATCH_BUFFER_END    the same, when the memory dword is not above the inline one
MI_SEMAPHORE_WAIT                  a polling wait on a memory dword (:mod:`.mi_wait`)
=================================  ===========================================================

The IGT spinner is a batch that jumps back to itself until the CPU rewrites its first dword
to MI_BATCH_BUFFER_END.  So every jump re-fetches from memory (nothing is cached across a
jump), and a backward jump is a polling step: check the hang deadline and the stop flag,
then :class:`~softgem.sync.deadline.Backoff` lets the CPU thread run.  The deadline and the
stop flag are also checked every :data:`CHECK_EVERY` commands, so a long straight-line batch
is caught too.

The render engine also decodes the GFX pipe (client 3: 3D, media/GPGPU and common state
commands, as Mesa's iris emits them) and *skips* every such command by its length: there is
no 3D pipeline to program, so state and draws have no effect -- except PIPE_CONTROL's
post-sync write, which is memory the CPU and later commands wait on, and is performed.
How the length of a client 3 command is found (header bits 28:27 subtype, 26:24 opcode,
23:16 sub-opcode; the same rules as Mesa's batch decoder and the kernel's command parser):

=======  ============================================  =====================================
subtype  commands (header >> 16)                       length in dwords
=======  ============================================  =====================================
0        common: STATE_BASE_ADDRESS 0x6101,            opcodes 0-1: bits 7:0 + 2
         STATE_SIP 0x6102 (0x6104: the gen4            (0x6104: 1)
         PIPELINE_SELECT)
1        single dword: PIPELINE_SELECT 0x6904          opcodes 0-1: 1
2        media/GPGPU: MEDIA_VFE_STATE 0x7000,          opcodes 0-2: bits 15:0 + 2;
         MEDIA_OBJECT 0x7100, GPGPU_WALKER 0x7105      GPGPU_WALKER: bits 7:0 + 2 (bits 8
                                                       and 10 are flags)
3        3D: 3DSTATE_* 0x78xx/0x79xx, PIPE_CONTROL     opcodes 0-3: bits 7:0 + 2;
         0x7A00, 3DPRIMITIVE 0x7B00                    3DSTATE_VF_STATISTICS 0x780B: 1;
                                                       3DSTATE_SO_DECL_LIST 0x7917: bits
                                                       8:0 + 2
=======  ============================================  =====================================

Any other client 3 header does not decode, and a client 3 command on an engine other than
render hangs it (only the render CS has a 3D pipe).

Why the engine stops (the request then ends with an error, see :mod:`.hang`): an unknown
command, a length that does not fit the gen8+ form, a blitter command on an engine other
than the copy engine (the render CS does not decode client 2), a GFX pipe command on an
engine other than render, a fetch from an address no vma maps (it would run zeros --
MI_NOOPs -- forever), or the deadline passing.

Fetching reads a window (:data:`FETCH_WINDOW` bytes, never past the end of the page, at least
the current command) as Python ints; the window is dropped after every jump and every command
that writes memory, so a batch that rewrites itself sees its own stores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..sync import Backoff, Deadline
from . import blitter, mi, mi_math, mi_wait
from .hang import CsStopped, GpuHang
from .mi import ADDR_MASK, GpuMemory

__all__ = ["CHECK_EVERY", "ENGINE_CLASS_COPY", "ENGINE_CLASS_RENDER", "CsState",
           "command_length", "execute"]

ENGINE_CLASS_RENDER = 0
ENGINE_CLASS_COPY = 1

#: Check the deadline and the stop flag at least this often (in commands).
CHECK_EVERY = 256

#: Bytes fetched at once (at most to the end of the page; at least the whole command).
FETCH_WINDOW = 512

#: A loop that reads the engine's timestamp yields the CPU once every this many jumps.
CLOCK_LOOP_YIELD = 64

#: Second-level batches nest this deep (gen9: one level below the first).
MAX_DEPTH = 1

Handler = Callable[[GpuMemory, list[int], "CsState", int], None]


@dataclass(slots=True)
class CsState:
    """What the command streamer carries from one command to the next (one per request).

    ``stop`` is written by other threads (a cancel): a non-zero errno makes the streamer stop
    at its next check with :class:`CsStopped`.
    """

    engine_class: int = ENGINE_CLASS_RENDER
    deadline: Deadline = field(default_factory=lambda: Deadline(None))
    stop: int = 0
    forced: bool = False            # a manual reset (i915_wedged) hit the running request
    mmio_base: int = 0x2000         # the engine's registers (:mod:`.mi_math`)
    registers: dict[int, int] = field(default_factory=dict)
    timestamp_reads: int = 0        # since the last backward jump
    clip: tuple[int, int, int, int] = (0, 0, 0, 0)
    commands: int = 0
    jumps: int = 0
    bytes_written: int = 0
    gfx_skipped: int = 0            # GFX pipe (3D/media) commands decoded and skipped
    backoff: Backoff = field(default_factory=Backoff)

    def timestamp(self) -> int:
        """The engine's timestamp counter: deterministic, it counts executed commands."""
        return self.commands

    def check(self, pc: int) -> None:
        """Raise if the request was cancelled or has run past its hang deadline."""
        if self.stop:
            raise CsStopped(self.stop)
        if self.forced:
            raise GpuHang("manual reset", pc)
        if self.deadline.expired():
            raise GpuHang(f"batch still running after {self.deadline.seconds}s", pc)


# Data commands: opcode -> handler.  Lengths come from the header's length field.
_MI_DATA: dict[int, Handler] = {
    0x20: mi.exec_store_dword_imm,
    0x22: mi.exec_load_register_imm,
    0x24: mi.exec_store_register_mem,
    0x26: mi.exec_flush_dw,
    mi_math.OP_STORE_DWORD_INDEX: mi_math.exec_store_dword_index,
    mi_math.OP_MATH: mi_math.exec_math,
    mi_math.OP_LRM: mi_math.exec_load_register_mem,
    mi_math.OP_LRR: mi_math.exec_load_register_reg,
}
_MI_LEN_MASK = {0x20: 0x3FF, 0x22: 0xFF, 0x24: 0xFF, 0x26: 0x3F, 0x31: 0xFF,
                mi_wait.OP_SEMAPHORE_WAIT: 0xFF, mi_wait.OP_COND_BBE: 0xFF,
                mi_math.OP_STORE_DWORD_INDEX: 0xFF, mi_math.OP_MATH: 0xFF,
                mi_math.OP_LRM: 0xFF, mi_math.OP_LRR: 0xFF}
_MI_SINGLE = {0x00, 0x02, 0x05, 0x08}      # NOOP, USER_INTERRUPT, ARB_CHECK, ARB_ON_OFF
_MI_WRITES_MEMORY = {0x20, 0x24, 0x26}      # STORE_DATA_IMM, STORE_REGISTER_MEM, FLUSH_DW
_BLT: dict[int, Handler] = {
    blitter.OP_SETUP_CLIP: blitter.exec_setup_clip,
    blitter.OP_COLOR: blitter.exec_color_blt,
    blitter.OP_SRC_COPY: blitter.exec_src_copy,
    blitter.OP_FAST_COPY: blitter.exec_fast_copy,
}
OP_BBE, OP_BBS = 0x0A, 0x31

# GFX pipe (client 3), see the module doc.  header >> 16 of the exceptions:
_GFX_ONE_DWORD = {0x6104, 0x780B}           # PIPELINE_SELECT (gen4), 3DSTATE_VF_STATISTICS
_GFX_LEN_MASK = {0x7105: 0xFF, 0x7917: 0x1FF}   # GPGPU_WALKER, 3DSTATE_SO_DECL_LIST
#: subtype -> (opcodes that decode, length mask of the rest; 0: one dword)
_GFX_SUBTYPES = {0: (2, 0xFF), 1: (2, 0), 2: (3, 0xFFFF), 3: (4, 0xFF)}
GFX_PIPE_CONTROL = 0x7A00
PIPE_CONTROL_POST_SYNC_SHIFT = 14
PIPE_CONTROL_STORE_DATA_INDEX = 1 << 21
PIPE_CONTROL_WRITE_IMMEDIATE, PIPE_CONTROL_WRITE_DEPTH_COUNT, PIPE_CONTROL_WRITE_TIMESTAMP = 1, 2, 3


class _Fetcher:
    """A window of the command stream read through the page tables."""

    __slots__ = ("base", "end", "vm", "words")

    def __init__(self, vm: GpuMemory) -> None:
        self.vm = vm
        self.words: list[int] = []
        self.base = self.end = 0

    def invalidate(self) -> None:
        self.end = self.base

    def get(self, pc: int, ndw: int) -> list[int]:
        """``ndw`` dwords at ``pc`` (refetching when the window does not hold them)."""
        if not (self.base <= pc and pc + 4 * ndw <= self.end):
            self._fetch(pc, max(4 * ndw, min(FETCH_WINDOW, 4096 - (pc & 4095))))
        i = (pc - self.base) >> 2
        return self.words[i:i + ndw]

    def _fetch(self, pc: int, n: int) -> None:
        runs = self.vm.resolve(pc, n, False)
        if runs[0][0] < 0:
            raise GpuHang("command fetch from an address no vma maps", pc)
        flat = self.vm.flat
        buf = np.empty(n, dtype=np.uint8)
        pos = 0
        for off, k, _ in runs:
            buf[pos:pos + k] = 0 if off < 0 else flat[off:off + k]
            pos += k
        self.words = buf.view("<u4").tolist()
        self.base, self.end = pc, pc + n


def _length(header: int, pc: int) -> int:
    """The command's length in dwords; a header the engine cannot decode hangs it."""
    client = header >> 29
    if client == 0:
        op = (header >> 23) & 0x3F
        if op in _MI_SINGLE or op == OP_BBE:
            return 1
        mask = _MI_LEN_MASK.get(op)
        if mask is not None:
            return (header & mask) + 2
    elif client == 2 and (header >> 22) & 0x7F in _BLT:
        return (header & 0xFF) + 2
    elif client == 3:
        whole = header >> 16
        if whole in _GFX_ONE_DWORD:
            return 1
        opcodes, mask = _GFX_SUBTYPES[(header >> 27) & 3]
        if (header >> 24) & 7 < opcodes:
            mask = _GFX_LEN_MASK.get(whole, mask)
            return (header & mask) + 2 if mask else 1
    raise GpuHang(f"unknown command {header:#010x}", pc)


def command_length(header: int) -> int:
    """The length in dwords the command streamer gives the command ``header`` starts.

    Raises GpuHang (at address 0) for a header it cannot decode."""
    return _length(header, 0)


def execute(vm: GpuMemory, start: int, length: int, state: CsState) -> None:
    """Run the batch at GPU address ``start`` until its MI_BATCH_BUFFER_END.

    ``length`` is the execbuf batch length (informational, see the module doc).

    Raises GpuHang when the engine would hang (see the module doc) and CsStopped when the
    request is cancelled meanwhile.  Whatever the batch wrote before stays written.
    """
    fetch = _Fetcher(vm)
    pc = start & ADDR_MASK & ~3
    stack: list[int] = []
    while True:
        header = fetch.get(pc, 1)[0]
        n = _length(header, pc)
        state.commands += 1
        if state.commands % CHECK_EVERY == 0:
            state.check(pc)
        client = header >> 29
        if client == 0:
            pc = _mi(vm, fetch, header, n, pc, stack, state)
            if pc < 0:
                return
            continue
        if client == 3:
            if state.engine_class != ENGINE_CLASS_RENDER:
                raise GpuHang(f"3D command {header:#010x} on a non-render engine", pc)
            state.gfx_skipped += 1
            if header >> 16 != GFX_PIPE_CONTROL or not _pipe_control(vm, fetch.get(pc, n),
                                                                     state, pc):
                pc += 4 * n
                continue
        else:
            if state.engine_class != ENGINE_CLASS_COPY:
                raise GpuHang(f"blitter command {header:#010x} on a non-copy engine", pc)
            _BLT[(header >> 22) & 0x7F](vm, fetch.get(pc, n), state, pc)
        fetch.invalidate()
        pc += 4 * n


def _mi(vm: GpuMemory, fetch: _Fetcher, header: int, n: int, pc: int, stack: list[int],
        state: CsState) -> int:
    """Run the MI command of ``header`` (``n`` dwords) at ``pc``; the next command's address,
    or -1 when the outermost batch ends."""
    op = (header >> 23) & 0x3F
    if op == OP_BBE or (op == mi_wait.OP_COND_BBE
                        and mi_wait.cond_bbe_ends(vm, fetch.get(pc, n), pc)):
        if not stack:
            return -1
        fetch.invalidate()
        return stack.pop()
    if op == OP_BBS:
        return _jump(fetch, fetch.get(pc, n), pc, stack, state)
    if op == mi_wait.OP_COND_BBE:
        return pc + 4 * n
    if op == mi_wait.OP_SEMAPHORE_WAIT:
        mi_wait.semaphore_wait(vm, fetch.get(pc, n), state, pc)
        return pc + 4 * n
    if op in _MI_SINGLE:
        if op == 0x05:          # MI_ARB_CHECK: a preemption point
            state.check(pc)
        return pc + 4
    _MI_DATA[op](vm, fetch.get(pc, n), state, pc)
    if op in _MI_WRITES_MEMORY:
        fetch.invalidate()
    return pc + 4 * n


def _pipe_control(vm: GpuMemory, cmd: list[int], state: CsState, pc: int) -> bool:
    """PIPE_CONTROL's post-sync operation (DW1 bits 15:14), a qword at DW2-3 (bits 47:3):
    the immediate DW4-5, the depth count (0: nothing is ever drawn) or the timestamp.  The
    flushes and invalidations are no-ops (everything here is coherent); a write into the
    status page (Store Data Index) is not modelled.  Returns whether memory was written."""
    if len(cmd) < 2:
        return False
    op = (cmd[1] >> PIPE_CONTROL_POST_SYNC_SHIFT) & 3
    if op == 0 or cmd[1] & PIPE_CONTROL_STORE_DATA_INDEX:
        return False
    if len(cmd) < 6:
        raise GpuHang("PIPE_CONTROL post-sync write without its address and data", pc)
    addr = ((cmd[3] & 0xFFFF) << 32 | cmd[2]) & ADDR_MASK & ~7
    if op == PIPE_CONTROL_WRITE_IMMEDIATE:
        value = cmd[4] | cmd[5] << 32
    elif op == PIPE_CONTROL_WRITE_TIMESTAMP:
        value = state.timestamp()
    else:
        value = 0
    vm.write(addr, np.array([value], dtype="<u8").view(np.uint8))
    state.bytes_written += 8
    return True


def _jump(fetch: _Fetcher, cmd: list[int], pc: int, stack: list[int], state: CsState) -> int:
    """MI_BATCH_BUFFER_START: where execution continues (see the module table)."""
    if len(cmd) < 3:
        raise GpuHang("MI_BATCH_BUFFER_START without a 64-bit address", pc)
    target = ((cmd[2] & 0xFFFF) << 32 | cmd[1]) & ADDR_MASK & ~3
    if cmd[0] & mi.MI_BATCH_SECOND_LEVEL:
        if len(stack) < MAX_DEPTH:
            stack.append(pc + 4 * len(cmd))
    else:
        stack.clear()
    fetch.invalidate()
    state.jumps += 1
    if target <= pc:
        # Looping (the spinner): a polling step.  Let the CPU in, give up on the deadline.
        # A loop on the engine's clock progresses by itself: it only yields, every
        # CLOCK_LOOP_YIELD jumps (still a scheduling point when explored), never backs off.
        state.check(pc)
        if state.timestamp_reads:
            state.timestamp_reads = 0
            state.backoff.reset()
            if state.jumps % CLOCK_LOOP_YIELD:
                return target
        state.backoff.pause()
    return target
