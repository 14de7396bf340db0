"""GFX pipe (3D, media, state) commands on the render engine: decoded by their length and
skipped, PIPE_CONTROL's post-sync write performed (cmdparser module doc)."""

from __future__ import annotations

import errno
import pathlib

import pytest
from gpu_exec_env import GpuExecEnv

from softgem.gpu import cmdparser, mi
from softgem.gpu.cmdparser import CsState

JUNK = 0xFFFF_FFFF      # an undecodable header: decoding a body dword as a command hangs


def _cmd(header: int, ndw: int) -> list[int]:
    return [header] + [JUNK] * (ndw - 1)


# (name, header, length in dwords) -- headers as Mesa's genxml for gen9 spells them
GFX_COMMANDS = [
    ("PIPELINE_SELECT (3D, mask)", 0x6904_0300, 1),
    ("STATE_BASE_ADDRESS", 0x6101_0011, 19),
    ("STATE_SIP", 0x6102_0001, 3),
    ("3DSTATE_VF_STATISTICS", 0x780B_0001, 1),
    ("3DSTATE_DRAWING_RECTANGLE", 0x7900_0002, 4),
    ("3DSTATE_SAMPLE_PATTERN", 0x791C_0007, 9),
    ("3DSTATE_VERTEX_BUFFERS (8 buffers)", 0x7808_001F, 33),
    ("3DSTATE_SO_DECL_LIST (length past 8 bits)", 0x7917_0101, 259),
    ("3DPRIMITIVE", 0x7B00_0005, 7),
    ("PIPE_CONTROL without post-sync", 0x7A00_0004, 6),
    ("MEDIA_VFE_STATE", 0x7000_0007, 9),
    ("MEDIA_OBJECT (16-bit length)", 0x7100_0104, 262),
    ("GPGPU_WALKER (predicate and indirect flags)", 0x7105_050D, 15),
]


@pytest.mark.parametrize(("name", "header", "ndw"), GFX_COMMANDS,
                         ids=[c[0] for c in GFX_COMMANDS])
def test_a_gfx_command_is_skipped_by_its_length(gpux: GpuExecEnv, name: str, header: int,
                                                ndw: int) -> None:
    dst = gpux.bo(4096)
    body = _cmd(header, ndw)
    if name.startswith("PIPE_CONTROL"):
        body[1:] = [0] * (ndw - 1)          # no post-sync op, no flush bits
    batch = gpux.batch(body + mi.store_dword_imm(dst.start, 0x600D), size=8192)
    rq = gpux.run(gpux.rcs, batch)
    assert rq.error == 0, rq.hang
    assert gpux.peek_u32(dst, 0) == 0x600D           # the next command ran, in step


def test_an_iris_like_state_batch_runs_to_its_end(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    batch: list[int] = []
    for _name, header, ndw in GFX_COMMANDS:
        if header >> 16 != 0x7A00:
            batch += _cmd(header, ndw)
    batch += mi.load_register_imm([(0x20D8, 0x00200020)])       # CS_DEBUG_MODE2, as iris
    batch += mi.store_dword_imm(dst.start + 4, 1)
    rq = gpux.run(gpux.rcs, gpux.batch(batch, size=8192))
    assert rq.error == 0 and gpux.peek_u32(dst, 4) == 1


def test_pipe_control_write_immediate_stores_the_qword(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    pc = [0x7A00_0004, 1 << 14 | 1 << 20, dst.start + 64, 0, 0x1122_3344, 0x5566_7788]
    rq = gpux.run(gpux.rcs, gpux.batch(pc))
    assert rq.error == 0
    assert int(gpux.peek(dst, 64, 8).view("<u8")[0]) == 0x5566_7788_1122_3344
    assert not gpux.peek(dst, 0, 64).any() and not gpux.peek(dst, 72, 64).any()


def test_pipe_control_timestamp_and_depth_count_post_syncs(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    gpux.poke_u32(dst, 8, 0xAAAA_AAAA)
    batch = [mi.MI_NOOP, mi.MI_NOOP,
             0x7A00_0004, 3 << 14, dst.start, 0, 0, 0,          # timestamp: 3rd command
             0x7A00_0004, 2 << 14, dst.start + 8, 0, 0, 0]      # depth count: nothing drawn
    rq = gpux.run(gpux.rcs, gpux.batch(batch))
    assert rq.error == 0
    assert gpux.peek(dst, 0, 16).view("<u8").tolist() == [3, 0]


def test_pipe_control_into_the_status_page_writes_nothing(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    rq = gpux.run(gpux.rcs, gpux.batch([0x7A00_0004, 1 << 14 | 1 << 21, dst.start, 0, 7, 0]))
    assert rq.error == 0 and not gpux.peek(dst, 0, 4096).any()


@pytest.mark.parametrize(("name", "batch", "reason"), [
    ("3D command on the copy engine", [0x7900_0002, 0, 0, 0], "non-render engine"),
    ("subtype 0 opcode 2", [0x6200_0000], "unknown command"),
    ("subtype 1 opcode 2", [0x6A00_0000], "unknown command"),
    ("subtype 2 opcode 3", [0x7300_0000], "unknown command"),
    ("subtype 3 opcode 4", [0x7C00_0000], "unknown command"),
    ("PIPE_CONTROL post-sync too short", [0x7A00_0000, 1 << 14], "PIPE_CONTROL"),
])
def test_what_does_not_decode_hangs_the_engine(gpux: GpuExecEnv, name: str,
                                               batch: list[int], reason: str) -> None:
    engine = gpux.bcs if "copy" in name else gpux.rcs
    rq = gpux.run(engine, gpux.batch(batch))
    assert rq.error == errno.EIO and rq.hang is not None
    assert reason in rq.hang.reason and rq.hang.addr == 0


def _iris_batch() -> tuple[list[int], list[int]]:
    """(dwords, command offsets by Mesa's decoder) of tests/gpu_exec/iris_clear_batch.txt."""
    text = (pathlib.Path(__file__).parent / "iris_clear_batch.txt").read_text().splitlines()
    offsets = [int(x) for x in text[6].lstrip("# ").split()]
    dwords = [int(w, 16) for line in text if not line.startswith("#") for w in line.split()]
    return dwords, offsets


def test_a_real_iris_batch_decodes_at_mesas_command_boundaries() -> None:
    dwords, mesa = _iris_batch()
    ours, pc = [], 0
    while pc < len(dwords):
        ours.append(pc)
        pc += cmdparser.command_length(dwords[pc])
    assert ours == mesa and pc == len(dwords)


def test_a_real_iris_batch_runs_to_its_end_on_the_render_engine(gpux: GpuExecEnv) -> None:
    dwords, mesa = _iris_batch()
    batch = gpux.batch(dwords, end=False, size=8192)
    state = CsState()
    cmdparser.execute(gpux.vm, batch.start, 4 * len(dwords), state)
    assert state.commands == len(mesa) and state.gfx_skipped == len(mesa) - 5  # 4 LRI, BBE
    rq = gpux.run(gpux.rcs, batch)
    assert rq.error == 0, rq.hang
