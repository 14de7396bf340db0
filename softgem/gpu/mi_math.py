"""The engine's registers and the MI commands that compute on them: MI_LOAD_REGISTER_REG,
MI_LOAD_REGISTER_MEM, MI_MATH, and MI_STORE_DWORD_INDEX (gen8+ forms).

IGT's timed batches (``gem_wsim``'s ``create_bb``, the kernel selftests' delay loops) spin on
the command streamer's own clock: they copy the engine's timestamp into two general purpose
registers, subtract them with MI_MATH, store the difference and end with a conditional batch
end once enough ticks went by.  This module gives them what they need:

==================  ======================================================================
register file       the engine's 4 KiB MMIO window (``mmio_base`` .. + 0xFFF), one dword
                    per offset, per request (a context's registers start at zero).  Writes
                    elsewhere are dropped and reads elsewhere give 0, so a batch can never
                    make the model keep more than 1,024 values.
GPRs                ``CS_GPR(n) = mmio_base + 0x600 + 8 n``, n < 16, 64 bits as two dwords
timestamps          ``RING_TIMESTAMP`` (+0x358, upper half +0x35C) and ``RING_CTX_TIMESTAMP``
                    (+0x3A8) read the request's tick counter (``CsState.timestamp``: one
                    tick per executed command, the order of a real CS's pace at the
                    12 MHz ``CS_TIMESTAMP_FREQUENCY`` reported); writes to them are dropped
MI_MATH (0x1A)      the ALU over R0-R15, SRCA, SRCB, ACCU, ZF and CF: LOAD, LOADINV,
                    LOAD0, LOAD1, ADD, SUB, AND, OR, XOR, STORE, STOREINV, NOOP (gen9 has no
                    shifts); 64-bit arithmetic; CF is the carry (ADD) or borrow (SUB), ZF
                    whether ACCU is 0, both all ones when set (as Mesa's mi_builder reads
                    them); any other ALU opcode stops the engine
MI_LRR (0x2A)       dword register to register (bits 19:18, the gen11+ relative-MMIO bits,
                    are ignored: gen9 batches give absolute offsets)
MI_LRM (0x29)       a dword of memory (DW2-3, 48-bit, dword aligned) into a register
MI_SDI (0x21)       a store into the per-context status page, which is not modelled: no
                    effect (as MI_FLUSH_DW's and PIPE_CONTROL's store-index forms)
==================  ======================================================================

A loop that reads a timestamp progresses by itself: at its backward jump the streamer only
yields instead of backing off as it does for a spinner polling memory (:mod:`.cmdparser`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .hang import GpuHang

if TYPE_CHECKING:
    from .cmdparser import CsState
    from .mi import GpuMemory

__all__ = ["ALU_ADD", "ALU_LOAD", "ALU_STORE", "ALU_SUB", "CS_GPR", "OP_LRM", "OP_LRR",
           "OP_MATH", "OP_STORE_DWORD_INDEX", "RING_CTX_TIMESTAMP", "RING_TIMESTAMP",
           "alu", "exec_load_register_mem", "exec_load_register_reg", "exec_math",
           "exec_store_dword_index", "read_register", "write_register"]

OP_STORE_DWORD_INDEX = 0x21
OP_MATH = 0x1A
OP_LRM = 0x29
OP_LRR = 0x2A

CS_GPR = 0x600
RING_TIMESTAMP = 0x358
RING_TIMESTAMP_UDW = 0x35C
RING_CTX_TIMESTAMP = 0x3A8
_WINDOW = 0x1000
_REG_MASK = 0x7FFFFC
_U64 = (1 << 64) - 1

ALU_NOOP, ALU_LOAD, ALU_LOADINV, ALU_LOAD0, ALU_LOAD1 = 0x000, 0x080, 0x480, 0x081, 0x481
ALU_ADD, ALU_SUB, ALU_AND, ALU_OR, ALU_XOR = 0x100, 0x101, 0x102, 0x103, 0x104
ALU_STORE, ALU_STOREINV = 0x180, 0x580
SRCA, SRCB, ACCU, ZF, CF = 0x20, 0x21, 0x31, 0x32, 0x33


def alu(opcode: int, op1: int = 0, op2: int = 0) -> int:
    """One MI_MATH ALU instruction dword (``MI_MATH_INSTR``)."""
    return opcode << 20 | op1 << 10 | op2


# -- the register file --------------------------------------------------------------------------
def read_register(state: CsState, offset: int) -> int:
    """The dword register at MMIO ``offset`` as this request's engine sees it."""
    rel = (offset & _REG_MASK) - state.mmio_base
    if rel in (RING_TIMESTAMP, RING_CTX_TIMESTAMP):
        state.timestamp_reads += 1
        return state.timestamp() & 0xFFFFFFFF
    if rel == RING_TIMESTAMP_UDW:
        state.timestamp_reads += 1
        return state.timestamp() >> 32 & 0xFFFFFFFF
    if not 0 <= rel < _WINDOW:
        return 0
    return state.registers.get(rel, 0)


def write_register(state: CsState, offset: int, value: int) -> None:
    rel = (offset & _REG_MASK) - state.mmio_base
    if 0 <= rel < _WINDOW and rel not in (RING_TIMESTAMP, RING_TIMESTAMP_UDW,
                                          RING_CTX_TIMESTAMP):
        state.registers[rel] = value & 0xFFFFFFFF


def _gpr(state: CsState, n: int) -> int:
    lo = state.registers.get(CS_GPR + 8 * n, 0)
    return lo | state.registers.get(CS_GPR + 8 * n + 4, 0) << 32


def _set_gpr(state: CsState, n: int, value: int) -> None:
    state.registers[CS_GPR + 8 * n] = value & 0xFFFFFFFF
    state.registers[CS_GPR + 8 * n + 4] = value >> 32 & 0xFFFFFFFF


# -- the commands ----------------------------------------------------------------------------------
def exec_load_register_reg(vm: GpuMemory, cmd: list[int], state: CsState, pc: int) -> None:
    if len(cmd) < 3:
        raise GpuHang("MI_LOAD_REGISTER_REG without its two registers", pc)
    write_register(state, cmd[2], read_register(state, cmd[1]))


def exec_load_register_mem(vm: GpuMemory, cmd: list[int], state: CsState, pc: int) -> None:
    if len(cmd) < 4:
        raise GpuHang("MI_LOAD_REGISTER_MEM too short for the gen8+ form", pc)
    addr = ((cmd[3] & 0xFFFF) << 32 | cmd[2]) & ~3
    write_register(state, cmd[1], int.from_bytes(vm.read(addr, 4).tobytes(), "little"))


def exec_store_dword_index(vm: GpuMemory, cmd: list[int], state: CsState, pc: int) -> None:
    if len(cmd) < 3:
        raise GpuHang("MI_STORE_DWORD_INDEX without its offset and value", pc)


def exec_math(vm: GpuMemory, cmd: list[int], state: CsState, pc: int) -> None:
    """Run the ALU instructions of one MI_MATH; the GPRs change, nothing else."""
    regs = {SRCA: 0, SRCB: 0, ACCU: 0, ZF: 0, CF: 0}

    def get(r: int) -> int:
        if r < 16:
            return _gpr(state, r)
        if r in regs:
            return regs[r]
        raise GpuHang(f"MI_MATH operand {r:#x} names no register", pc)

    for dw in cmd[1:]:
        op, op1, op2 = dw >> 20, dw >> 10 & 0x3FF, dw & 0x3FF
        if op == ALU_NOOP:
            continue
        if op in (ALU_LOAD, ALU_LOADINV, ALU_LOAD0, ALU_LOAD1):
            if op1 not in (SRCA, SRCB):
                raise GpuHang(f"MI_MATH load into {op1:#x}, not SRCA or SRCB", pc)
            value = {ALU_LOAD0: 0, ALU_LOAD1: 1}.get(op)
            if value is None:
                value = get(op2) if op == ALU_LOAD else ~get(op2) & _U64
            regs[op1] = value
        elif op in (ALU_STORE, ALU_STOREINV):
            value = get(op2) if op == ALU_STORE else ~get(op2) & _U64
            if op1 >= 16:
                raise GpuHang(f"MI_MATH store into {op1:#x}, not a GPR", pc)
            _set_gpr(state, op1, value)
        else:
            _compute(op, regs, pc)


def _compute(op: int, regs: dict[int, int], pc: int) -> None:
    a, b = regs[SRCA], regs[SRCB]
    carry = False
    if op == ALU_ADD:
        full = a + b
        carry, out = full > _U64, full & _U64
    elif op == ALU_SUB:
        carry, out = a < b, (a - b) & _U64
    elif op == ALU_AND:
        out = a & b
    elif op == ALU_OR:
        out = a | b
    elif op == ALU_XOR:
        out = a ^ b
    else:
        raise GpuHang(f"MI_MATH ALU opcode {op:#x} is not a gen9 instruction", pc)
    regs[ACCU] = out
    regs[CF] = _U64 if carry else 0
    regs[ZF] = _U64 if out == 0 else 0
