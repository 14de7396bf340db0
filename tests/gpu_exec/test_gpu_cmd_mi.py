"""MI_* commands: encodings as IGT and the kernel spell them, and what each does to memory."""

from __future__ import annotations

import errno

import numpy as np
import pytest
from gpu_exec_env import GpuExecEnv

from softgem.gpu import blitter, mi

# Header dwords written out from IGT lib/intel_reg.h / lib/intel_batchbuffer.c and the
# kernel's gt/intel_gpu_commands.h (gen8+ lengths), checked against our encoders.
ENCODINGS = [
    ("MI_NOOP", mi.MI_NOOP, 0x00000000),
    ("MI_ARB_CHECK", mi.MI_ARB_CHECK, 0x02800000),
    ("MI_BATCH_BUFFER_END", mi.MI_BATCH_BUFFER_END, 0x05000000),
    ("MI_STORE_DWORD_IMM_GEN4", mi.MI_STORE_DWORD_IMM_GEN4, 0x10000002),
    ("MI_STORE_QWORD_IMM_GEN8", mi.MI_STORE_QWORD_IMM_GEN8, 0x10200003),
    ("MI_LOAD_REGISTER_IMM(1)", mi.MI_LOAD_REGISTER_IMM(1), 0x11000001),
    ("MI_STORE_REGISTER_MEM_GEN8", mi.MI_STORE_REGISTER_MEM_GEN8, 0x12000002),
    ("MI_FLUSH_DW", mi.MI_FLUSH_DW, 0x13000001),
    ("MI_BATCH_BUFFER_START | 1 << 8 | 1 (igt_spin)", mi.batch_buffer_start(0)[0],
     0x18800101),
    ("XY_SETUP_CLIP_BLT_CMD", blitter.XY_SETUP_CLIP_BLT_CMD, 0x40C00001),
    ("XY_FAST_COPY_BLT", blitter.XY_FAST_COPY_BLT, 0x50800008),
    ("XY_COLOR_BLT_CMD | WRITE_RGBA | 5", blitter.xy_color_blt(0, 64, 0, 0, 1, 1, 0)[0],
     0x54300005),
    ("XY_SRC_COPY_BLT_CMD | WRITE_RGBA | 8",
     blitter.xy_src_copy_blt(0, 64, 0, 0, 0, 64, 0, 0, 1, 1)[0], 0x54F00008),
]


@pytest.mark.parametrize(("name", "ours", "igt"), ENCODINGS, ids=[e[0] for e in ENCODINGS])
def test_command_headers_match_igt_encodings(name: str, ours: int, igt: int) -> None:
    assert ours == igt, f"{name}: {ours:#010x} != {igt:#010x}"


def test_src_copy_body_matches_igt_layout() -> None:
    cmd = blitter.xy_src_copy_blt(0x1_2345_6000, 256, 3, 4, 0x7000, 128, 5, 6, 10, 20)
    assert cmd[1] == (3 << 24) | (0xCC << 16) | 256        # 32 bpp, SRCCOPY, dst pitch
    assert cmd[2:4] == [(4 << 16) | 3, (24 << 16) | 13]     # y1:x1, (y1+h):(x1+w)
    assert cmd[4:6] == [0x2345_6000, 0x1]                   # 64-bit dst address
    assert cmd[6:10] == [(6 << 16) | 5, 128, 0x7000, 0]


def test_store_dword_writes_one_dword_and_nothing_else(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    batch = gpux.batch(mi.store_dword_imm(dst.start + 8, 0xDEADBEEF))
    rq = gpux.run(gpux.rcs, batch)
    assert rq.error == 0
    assert gpux.peek(dst, 0, 16).view("<u4").tolist() == [0, 0, 0xDEADBEEF, 0]


def test_store_qword_writes_sixty_four_bits(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    gpux.run(gpux.rcs, gpux.batch(mi.store_qword_imm(dst.start + 16, 0x1122334455667788)))
    assert int(gpux.peek(dst, 16, 8).view("<u8")[0]) == 0x1122334455667788


def test_store_data_imm_with_a_longer_length_stores_consecutive_dwords(
        gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    cmd = [mi.mi_instr(0x20, 4), dst.start + 4, 0, 1, 2, 3]
    gpux.run(gpux.rcs, gpux.batch(cmd))
    assert gpux.peek(dst, 0, 20).view("<u4").tolist() == [0, 1, 2, 3, 0]


def test_store_through_a_read_only_binding_is_dropped(gpux: GpuExecEnv) -> None:
    ro = gpux.bo(4096, readonly=True)
    gpux.poke_u32(ro, 0, 0x12345678)
    rq = gpux.run(gpux.rcs, gpux.batch(mi.store_dword_imm(ro.start, 0xFFFFFFFF)))
    assert rq.error == 0
    assert gpux.peek_u32(ro, 0) == 0x12345678


def test_store_to_an_unmapped_address_vanishes_into_scratch(gpux: GpuExecEnv) -> None:
    rq = gpux.run(gpux.rcs, gpux.batch(mi.store_dword_imm(0x7_0000_0000, 1)))
    assert rq.error == 0


def test_flush_dw_post_sync_store_writes_the_immediate(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    gpux.run(gpux.bcs, gpux.batch(mi.flush_dw() + mi.flush_dw(dst.start + 64, 0xC0FFEE)))
    assert gpux.peek_u32(dst, 64) == 0xC0FFEE
    assert not gpux.peek(dst, 0, 64).any()


def test_flush_dw_timestamp_post_sync_writes_a_qword(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    cmd = [mi.MI_FLUSH_DW + 1 | mi.MI_FLUSH_DW_OP_STAMP, dst.start, 0, 0]
    gpux.run(gpux.bcs, gpux.batch([mi.MI_NOOP] * 3 + cmd))
    assert int(gpux.peek(dst, 0, 8).view("<u8")[0]) == 4    # the 4th command ran it


def test_load_register_imm_is_accepted_and_its_value_kept(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    batch = mi.load_register_imm([(0x22200, 0xAB), (0x2400, 0xCD)])   # 0x2400: MI_PREDICATE_SRC0
    batch += mi.store_register_mem(0x2400, dst.start) + mi.store_register_mem(0x2404, dst.start + 4)
    gpux.run(gpux.rcs, gpux.batch(batch))
    assert gpux.peek(dst, 0, 8).view("<u4").tolist() == [0xCD, 0]


def test_noop_arb_check_and_user_interrupt_are_accepted(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    batch = [mi.MI_NOOP, mi.MI_ARB_CHECK, mi.MI_USER_INTERRUPT, mi.MI_ARB_ON_OFF]
    rq = gpux.run(gpux.rcs, gpux.batch(batch + mi.store_dword_imm(dst.start, 7)))
    assert (rq.error, gpux.peek_u32(dst, 0)) == (0, 7)


BAD_COMMANDS = [
    ("unknown MI opcode", [mi.mi_instr(0x3F)]),
    ("MI_SEMAPHORE_WAIT with an undefined compare operation",
     [mi.mi_instr(0x1C, 2) | 6 << 12, 0, 0, 0]),
    ("store without its gen8 address dword", [mi.mi_instr(0x20, 1), 0, 0]),
    ("PIPE_CONTROL on a render batch (not modelled)", [(3 << 29) | (3 << 27) | (2 << 24) | 4]),
    ("a blit on the render engine", blitter.xy_color_blt(0, 64, 0, 0, 1, 1, 0)),
]


@pytest.mark.parametrize(("why", "bad"), BAD_COMMANDS, ids=[b[0] for b in BAD_COMMANDS])
def test_a_command_the_engine_cannot_execute_ends_the_request_with_eio(
        gpux: GpuExecEnv, why: str, bad: list[int]) -> None:
    dst = gpux.bo(4096)
    batch = mi.store_dword_imm(dst.start, 1) + bad + mi.store_dword_imm(dst.start + 4, 2)
    rq = gpux.run(gpux.rcs, gpux.batch(batch))
    assert rq.error == errno.EIO and rq.fence.error == errno.EIO
    assert rq.hang is not None
    # Work before the bad command stays done; nothing after it ran.
    assert gpux.peek(dst, 0, 8).view("<u4").tolist() == [1, 0]
    assert gpux.rcs.resets == 1


def test_a_batch_that_runs_off_into_unmapped_memory_hangs(gpux: GpuExecEnv) -> None:
    # No MI_BATCH_BUFFER_END: the 4 KiB object is all MI_NOOPs, then scratch.
    batch = gpux.bo(4096, at=0x10000)
    rq = gpux.run(gpux.rcs, batch)
    assert rq.error == errno.EIO
    assert rq.hang is not None and "no vma maps" in rq.hang.reason
    assert rq.hang.addr == 0x11000


def test_store_data_is_written_little_endian(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    gpux.run(gpux.rcs, gpux.batch(mi.store_dword_imm(dst.start, 0x04030201)))
    assert bytes(gpux.peek(dst, 0, 4)) == b"\x01\x02\x03\x04"
    assert np.array_equal(gpux.peek(dst, 4, 4), np.zeros(4, np.uint8))
