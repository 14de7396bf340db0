"""The engine's registers and MI_MATH: register moves, the ALU, the timestamp registers, and
gem_wsim's timed batch (a loop on the engine's clock) ending after its ticks."""

from __future__ import annotations

import errno

import numpy as np
import pytest
from gpu_exec_env import GpuExecEnv

from softgem.gpu import mi, mi_math
from softgem.gpu.mi_math import ACCU, CF, SRCA, SRCB, ZF, alu
from softgem.gpu.mi_wait import MI_DO_COMPARE, OP_COND_BBE

RCS = 0x2000
GPR = RCS + mi_math.CS_GPR
TIMESTAMP = RCS + mi_math.RING_CTX_TIMESTAMP
LRR = mi.mi_instr(mi_math.OP_LRR, 1) | 1 << 19 | 1 << 18      # with the CS_MMIO bits IGT sets
U64 = (1 << 64) - 1


def lri64(n: int, value: int) -> list[int]:
    return mi.load_register_imm([(GPR + 8 * n, value & 0xFFFFFFFF),
                                 (GPR + 8 * n + 4, value >> 32)])


def math(*instrs: int) -> list[int]:
    return [mi.mi_instr(mi_math.OP_MATH, len(instrs) - 1), *instrs]


def srm64(n: int, addr: int) -> list[int]:
    return mi.store_register_mem(GPR + 8 * n, addr) + mi.store_register_mem(GPR + 8 * n + 4,
                                                                          addr + 4)


def binop(gpux: GpuExecEnv, op: int, a: int, b: int) -> tuple[int, int, int]:
    """(ACCU, CF, ZF) of ``a op b``, each read back through a GPR."""
    dst = gpux.bo(4096)
    batch = lri64(0, a) + lri64(1, b) + math(
        alu(mi_math.ALU_LOAD, SRCA, 0), alu(mi_math.ALU_LOAD, SRCB, 1), alu(op),
        alu(mi_math.ALU_STORE, 2, ACCU), alu(mi_math.ALU_STORE, 3, CF),
        alu(mi_math.ALU_STORE, 4, ZF))
    batch += srm64(2, dst.start) + srm64(3, dst.start + 8) + srm64(4, dst.start + 16)
    rq = gpux.run(gpux.rcs, gpux.batch(batch))
    assert rq.error == 0
    out = gpux.peek(dst, 0, 24).view("<u8").tolist()
    return out[0], out[1], out[2]


@pytest.mark.parametrize(("op", "a", "b", "want"), [
    (mi_math.ALU_ADD, 5, 7, (12, 0, 0)),
    (mi_math.ALU_ADD, U64, 1, (0, U64, U64)),              # carry out of 64 bits
    (mi_math.ALU_SUB, 7, 5, (2, 0, 0)),
    (mi_math.ALU_SUB, 5, 7, ((5 - 7) & U64, U64, 0)),      # borrow
    (mi_math.ALU_SUB, 1 << 40, 1 << 40, (0, 0, U64)),
    (mi_math.ALU_AND, 0xF0F0, 0xFF00, (0xF000, 0, 0)),
    (mi_math.ALU_OR, 0xF0F0 << 32, 0xF, (0xF0F0 << 32 | 0xF, 0, 0)),
    (mi_math.ALU_XOR, 0xFF, 0xFF, (0, 0, U64)),
], ids=["add", "add-carry", "sub", "sub-borrow", "sub-zero", "and", "or-64bit", "xor-zero"])
def test_alu_operations_on_64_bit_gprs(gpux: GpuExecEnv, op: int, a: int, b: int,
                                       want: tuple[int, int, int]) -> None:
    assert binop(gpux, op, a, b) == want


def test_loadinv_storeinv_load0_load1(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    batch = lri64(0, 0x1234) + math(
        alu(mi_math.ALU_LOADINV, SRCA, 0), alu(0x481, SRCB), alu(mi_math.ALU_ADD),
        alu(mi_math.ALU_STOREINV, 1, ACCU),                  # ~(~x + 1) == x - 1
        alu(0x081, SRCA), alu(0x081, SRCB), alu(mi_math.ALU_OR),
        alu(mi_math.ALU_STORE, 2, ACCU))
    gpux.run(gpux.rcs, gpux.batch(batch + srm64(1, dst.start) + srm64(2, dst.start + 8)))
    assert gpux.peek(dst, 0, 16).view("<u8").tolist() == [0x1233, 0]


def test_load_register_reg_and_mem(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    gpux.poke_u32(dst, 64, 0xFEED)
    batch = [*mi.load_register_imm([(GPR, 0xAB)]), LRR, GPR, GPR + 8]
    batch += [mi.mi_instr(mi_math.OP_LRM, 2), GPR + 16, dst.start + 64, 0]
    batch += mi.store_register_mem(GPR + 8, dst.start) + \
        mi.store_register_mem(GPR + 16, dst.start + 4)
    rq = gpux.run(gpux.rcs, gpux.batch(batch))
    assert rq.error == 0
    assert gpux.peek(dst, 0, 8).view("<u4").tolist() == [0xAB, 0xFEED]


def test_the_timestamp_registers_count_the_requests_commands(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    batch = [mi.MI_NOOP] * 4 + [LRR, TIMESTAMP, GPR]     # the LRR is the 5th command
    batch += mi.load_register_imm([(TIMESTAMP, 0x7777)])  # dropped: not a writable register
    batch += mi.store_register_mem(GPR, dst.start) + \
        mi.store_register_mem(RCS + mi_math.RING_TIMESTAMP, dst.start + 4)
    gpux.run(gpux.rcs, gpux.batch(batch))
    assert gpux.peek(dst, 0, 8).view("<u4").tolist() == [5, 8]


def test_registers_outside_the_engines_window_are_not_kept(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    batch = mi.load_register_imm([(0x22600, 1), (0x7FFFF0, 2), (GPR, 3)])
    batch += mi.store_register_mem(0x22600, dst.start) + \
        mi.store_register_mem(0x7FFFF0, dst.start + 4) + \
        mi.store_register_mem(GPR, dst.start + 8)
    gpux.run(gpux.rcs, gpux.batch(batch))
    assert gpux.peek(dst, 0, 12).view("<u4").tolist() == [0, 0, 3]


def test_each_engine_has_its_own_gprs(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    bcs_gpr = 0x22000 + mi_math.CS_GPR
    batch = mi.load_register_imm([(bcs_gpr, 9)]) + mi.store_register_mem(bcs_gpr, dst.start)
    gpux.run(gpux.bcs, gpux.batch(batch))
    assert gpux.peek_u32(dst, 0) == 9


@pytest.mark.parametrize(("why", "instr"), [
    ("a gen12 shift", alu(0x105)),
    ("a load into ACCU", alu(mi_math.ALU_LOAD, ACCU, 0)),
    ("a store into SRCA", alu(mi_math.ALU_STORE, SRCA, ACCU)),
    ("an operand naming nothing", alu(mi_math.ALU_LOAD, SRCA, 0x3FF)),
])
def test_an_alu_instruction_gen9_lacks_stops_the_engine(gpux: GpuExecEnv, why: str,
                                                        instr: int) -> None:
    rq = gpux.run(gpux.rcs, gpux.batch(math(instr)))
    assert rq.error == errno.EIO and rq.hang is not None, why
    assert "MI_MATH" in str(rq.hang)


def wsim_batch(base: int, self_at: int, ticks: int) -> list[int]:
    """gem_wsim's create_bb (IGT benchmarks/gem_wsim.c), laid out as it is: loop until the
    engine's timestamp moved ``ticks`` past its first reading."""
    gpr = base + mi_math.CS_GPR
    ts = base + mi_math.RING_CTX_TIMESTAMP
    start = [mi.MI_LOAD_REGISTER_IMM(1) | 1 << 19, gpr + 4, 0, LRR, ts, gpr]
    if len(start) & 1:
        start.append(mi.MI_NOOP)
    jmp = 4 * len(start)
    loop = [mi.MI_LOAD_REGISTER_IMM(1) | 1 << 19, gpr + 8 + 4, 0, LRR, ts, gpr + 8]
    loop += math(alu(mi_math.ALU_LOAD, SRCA, 1), alu(mi_math.ALU_LOAD, SRCB, 0),
                 alu(mi_math.ALU_SUB), alu(mi_math.ALU_STOREINV, 1, ACCU))
    loop += [mi.mi_instr(0x24, 2) | 1 << 19, gpr + 8, self_at + 4000, 0]
    for _ in range(8):
        loop += [mi.mi_instr(mi_math.OP_STORE_DWORD_INDEX, 1), 2048, 0]
    loop += [mi.mi_instr(OP_COND_BBE, 2) | MI_DO_COMPARE, ~ticks & 0xFFFFFFFF,
             self_at + 4000, 0]
    loop += mi.batch_buffer_start(self_at + jmp)
    return start + loop


@pytest.mark.parametrize("engine", ["rcs", "bcs"])
def test_gem_wsims_timed_batch_ends_after_its_ticks(gpux: GpuExecEnv, engine: str) -> None:
    eng = getattr(gpux, engine)
    base = {"rcs": 0x2000, "bcs": 0x22000}[engine]
    bb = gpux.bo(4096)
    ticks = 1200                      # 100 us at the 12 MHz CS_TIMESTAMP_FREQUENCY
    gpux.poke(bb, 0, np.array([*wsim_batch(base, bb.start, ticks), mi.MI_BATCH_BUFFER_END],
                              dtype="<u4"))
    rq = gpux.run(eng, bb)
    assert rq.error == 0
    delta = ~gpux.peek_u32(bb, 4000) & 0xFFFFFFFF
    assert ticks <= delta < ticks + 40, delta      # one loop iteration past the target
