"""Control flow of the command streamer: chaining, second-level batches, the IGT spinner, and
what happens when a batch hangs (EIO, guilt, ban, reset)."""

from __future__ import annotations

import errno

import pytest
from gpu_exec_env import FakeContext, GpuExecEnv

from softgem.gem.create import gem_create
from softgem.gem.mman import I915_MMAP_TYPE_GTT, DrmMappable, mmap_offset
from softgem.gpu import manual_reset, mi
from softgem.gpu.hang import ENGINE_ID
from softgem.gpu.mi_wait import MI_DO_COMPARE, OP_COND_BBE, OP_SEMAPHORE_WAIT
from softgem.gpu.request import RUNNING, Request
from softgem.gpu.vma import GpuVma
from softgem.posix import MAP_SHARED, PROT_READ, PROT_WRITE
from softgem.sync.deadline import Backoff, Deadline
from softgem.units import PAGE_SHIFT, PAGE_SIZE


def _stores(dst: GpuVma, *values: tuple[int, int]) -> list[int]:
    out: list[int] = []
    for off, value in values:
        out += mi.store_dword_imm(dst.start + off, value)
    return out


def _dwords(gpux: GpuExecEnv, dst: GpuVma, n: int) -> list[int]:
    return [int(v) for v in gpux.peek(dst, 0, 4 * n).view("<u4")]


def test_batch_buffer_start_chains_to_the_next_batch(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    second = gpux.batch(_stores(dst, (4, 2)))
    first = gpux.batch(_stores(dst, (0, 1)) + mi.batch_buffer_start(second.start), end=False)
    assert gpux.run(gpux.rcs, first).error == 0
    assert _dwords(gpux, dst, 2) == [1, 2]


def test_second_level_batch_returns_to_its_caller(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    sub = gpux.batch(_stores(dst, (4, 2)))
    main = gpux.batch(_stores(dst, (0, 1)) + mi.batch_buffer_start(sub.start, second_level=True)
                      + _stores(dst, (8, 3)))
    gpux.run(gpux.rcs, main)
    assert _dwords(gpux, dst, 3) == [1, 2, 3]


def test_a_second_level_call_from_a_second_level_batch_chains_at_that_level(
        gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    leaf = gpux.batch(_stores(dst, (8, 3)))
    sub = gpux.batch(_stores(dst, (4, 2)) + mi.batch_buffer_start(leaf.start, second_level=True)
                     + _stores(dst, (12, 99)))
    main = gpux.batch(mi.batch_buffer_start(sub.start, second_level=True) + _stores(dst, (0, 1)))
    gpux.run(gpux.rcs, main)
    assert _dwords(gpux, dst, 4) == [1, 2, 3, 0]


def test_a_first_level_jump_from_a_second_level_batch_forgets_the_caller(
        gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    tail = gpux.batch(_stores(dst, (4, 2)))
    sub = gpux.batch(mi.batch_buffer_start(tail.start), end=False)
    main = gpux.batch(mi.batch_buffer_start(sub.start, second_level=True) + _stores(dst, (0, 1)))
    gpux.run(gpux.rcs, main)
    assert _dwords(gpux, dst, 2) == [0, 2]


def _spinner(gpux: GpuExecEnv) -> GpuVma:
    """igt_spin's shape: an arbitration point, then a jump back to the batch start."""
    spin = gpux.bo(4096)
    gpux.poke(spin, 0, bytes(4))
    dwords = [mi.MI_ARB_CHECK, *mi.batch_buffer_start(spin.start)]
    for i, dw in enumerate(dwords):
        gpux.poke_u32(spin, 4 * i, dw)
    return spin


def _wait_running(rq: Request) -> None:
    deadline, backoff = Deadline(10), Backoff()
    while rq.state != RUNNING or rq.cs is None or rq.cs.jumps < 3:
        assert not deadline.expired(), f"{rq!r} never started spinning"
        backoff.pause()


def test_spinner_runs_until_the_cpu_rewrites_its_first_dword(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    spin = _spinner(gpux)
    rq = gpux.submit(gpux.rcs, spin)
    after = gpux.submit(gpux.rcs, gpux.batch(_stores(dst, (0, 5))))
    _wait_running(rq)
    assert not rq.completed() and not after.completed()
    assert gpux.peek_u32(dst, 0) == 0          # in order: the store waits behind the spinner
    gpux.poke_u32(spin, 0, mi.MI_BATCH_BUFFER_END)
    assert rq.wait(10) and after.wait(10)
    assert (rq.error, after.error, gpux.peek_u32(dst, 0)) == (0, 0, 5)
    assert gpux.rcs.resets == 0


def test_spinner_left_alone_is_declared_hung_and_completes_with_eio(gpux: GpuExecEnv) -> None:
    gpux.gpu.hang_timeout = 0.05
    ctx = FakeContext()
    rq = gpux.run(gpux.rcs, _spinner(gpux), ctx)
    assert rq.error == errno.EIO
    assert rq.hang is not None and "still running" in rq.hang.reason
    assert (ctx.hangs, ctx.banned, gpux.rcs.resets) == (1, False, 1)


def test_a_manual_reset_stops_the_running_spinner_and_spares_the_queue(gpux: GpuExecEnv
                                                                        ) -> None:
    """What a write of an engine mask to debugfs i915_wedged does (host/wedged.py)."""
    dst = gpux.bo(4096)
    ctx = FakeContext()
    rq = gpux.submit(gpux.rcs, _spinner(gpux), ctx)
    after = gpux.submit(gpux.rcs, gpux.batch(_stores(dst, (0, 7))))
    _wait_running(rq)
    assert manual_reset(gpux.gpu, 1 << ENGINE_ID["bcs0"]) == 0     # another engine: idle
    assert not rq.completed()
    assert manual_reset(gpux.gpu, 0xFFFFFFFFFFFFFFFF) == 1
    assert rq.completed() and rq.error == errno.EIO       # done when the call returns
    assert rq.hang is not None and rq.hang.reason == "manual reset"
    assert after.wait(10) and (after.error, gpux.peek_u32(dst, 0)) == (0, 7)
    assert (ctx.hangs, ctx.banned, gpux.rcs.resets) == (1, False, 1)
    assert manual_reset(gpux.gpu, 0xFFFFFFFFFFFFFFFF) == 0    # idle now: nothing to reset


def test_a_long_straight_line_batch_is_caught_by_the_periodic_deadline_check(
        gpux: GpuExecEnv) -> None:
    gpux.gpu.hang_timeout = 0.0
    rq = gpux.run(gpux.rcs, gpux.batch([mi.MI_NOOP] * 600))
    assert rq.error == errno.EIO and rq.hang is not None
    assert rq.hang.addr == 255 * 4      # the 256th command is the first check


BAN_RULES = [
    # (bannable, recoverable, hang count -> banned after each hang)
    (True, True, [False, False, True]),
    (True, False, [True]),
    (False, True, [False, False, False, False]),
]


@pytest.mark.parametrize(("bannable", "recoverable", "expect"), BAN_RULES)
def test_context_is_banned_as_the_kernel_would(gpux: GpuExecEnv, bannable: bool,
                                               recoverable: bool, expect: list[bool]) -> None:
    ctx = FakeContext(bannable=bannable, recoverable=recoverable)
    bad = gpux.batch([mi.mi_instr(0x3F)])
    seen = []
    for _ in expect:
        assert gpux.run(gpux.rcs, bad, ctx).error == errno.EIO
        seen.append(ctx.banned)
    assert seen == expect and ctx.hangs == len(expect)


def test_a_banned_context_runs_nothing_more_and_others_carry_on(gpux: GpuExecEnv) -> None:
    ctx, other = FakeContext(recoverable=False), FakeContext()
    dst = gpux.bo(4096)
    gpux.gpu.hang_timeout = 0.2
    hung = gpux.submit(gpux.rcs, _spinner(gpux), ctx)
    queued = gpux.submit(gpux.rcs, gpux.batch(_stores(dst, (0, 1))), ctx)
    bystander = gpux.submit(gpux.rcs, gpux.batch(_stores(dst, (4, 2))), other)
    assert hung.wait(10) and queued.wait(10) and bystander.wait(10)
    assert (hung.error, queued.error, bystander.error) == (errno.EIO, errno.EIO, 0)
    later = gpux.run(gpux.bcs, gpux.batch(_stores(dst, (8, 3))), ctx)
    assert later.error == errno.EIO
    assert _dwords(gpux, dst, 3) == [0, 2, 0]
    assert ctx.banned and not other.banned and other.hangs == 0


def test_cancelling_a_context_stops_its_running_spinner_without_a_reset(
        gpux: GpuExecEnv) -> None:
    ctx = FakeContext()
    rq = gpux.submit(gpux.rcs, _spinner(gpux), ctx)
    _wait_running(rq)
    assert gpux.rcs.cancel_context(ctx, errno.EINTR) == 1
    assert rq.wait(10)
    assert rq.error == errno.EINTR and rq.hang is None
    assert (gpux.rcs.resets, ctx.hangs) == (0, 0)


def test_a_gpu_reset_revokes_gtt_mmaps(gpux: GpuExecEnv) -> None:
    handle, _ = gem_create(gpux.dev, gpux.file, 2 * PAGE_SIZE)
    off = mmap_offset(gpux.dev, gpux.file, handle, I915_MMAP_TYPE_GTT)
    addr = gpux.mm.mmap(0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                        file=DrmMappable(gpux.dev, gpux.file), pgoff=off >> PAGE_SHIFT)
    gpux.mm.cpu_write(addr, b"gtt!")
    assert gpux.mm.resident_pages(addr, addr + 2 * PAGE_SIZE)
    assert gpux.run(gpux.rcs, gpux.batch([mi.mi_instr(0x3F)])).error == errno.EIO
    assert gpux.mm.resident_pages(addr, addr + 2 * PAGE_SIZE) == []
    assert gpux.mm.cpu_read(addr, 4) == b"gtt!"      # faults back in


def _igt_spinner(gpux: GpuExecEnv) -> tuple[GpuVma, int]:
    """igt_spin_new's gen8+ batch: MI_ARB_CHECK, then a conditional end on a condition dword
    that starts at 0xffffffff, then a jump back.  Returns the batch and the condition's
    offset in it."""
    spin = gpux.bo(4096)
    cond = 4096 - 8
    dwords = [mi.MI_ARB_CHECK, OP_COND_BBE << 23 | MI_DO_COMPARE | 2, mi.MI_BATCH_BUFFER_END,
              spin.start + cond, 0, *mi.batch_buffer_start(spin.start)]
    for i, dw in enumerate(dwords):
        gpux.poke_u32(spin, 4 * i, dw)
    gpux.poke_u32(spin, cond, 0xFFFFFFFF)
    return spin, cond


def test_the_igt_spinner_loops_until_its_condition_dword_is_batch_buffer_end(
        gpux: GpuExecEnv) -> None:
    spin, cond = _igt_spinner(gpux)
    rq = gpux.submit(gpux.rcs, spin)
    _wait_running(rq)
    assert not rq.completed()
    gpux.poke_u32(spin, cond, mi.MI_BATCH_BUFFER_END)        # igt_spin_end
    assert rq.wait(10) and rq.error == 0 and gpux.rcs.resets == 0


@pytest.mark.parametrize("op, mem, data, passes", [
    (0, 6, 5, True), (0, 5, 5, False), (1, 5, 5, True), (2, 4, 5, True), (2, 5, 5, False),
    (3, 5, 5, True), (4, 5, 5, True), (4, 6, 5, False), (5, 6, 5, True), (5, 5, 5, False)])
def test_semaphore_wait_compares_memory_with_the_inline_dword(
        gpux: GpuExecEnv, op: int, mem: int, data: int, passes: bool) -> None:
    sema, dst = gpux.bo(4096), gpux.bo(4096)
    gpux.poke_u32(sema, 0, mem)
    wait = [OP_SEMAPHORE_WAIT << 23 | 1 << 15 | op << 12 | 2, data, sema.start, 0]
    rq = gpux.submit(gpux.rcs, gpux.batch(wait + _stores(dst, (0, 9))))
    if not passes:
        _wait_polling(rq)
        assert not rq.completed() and gpux.peek_u32(dst, 0) == 0
        gpux.poke_u32(sema, 0, {0: 6, 1: 5, 2: 4, 3: 5, 4: 5, 5: 6}[op])   # now it holds
    assert rq.wait(10) and rq.error == 0 and gpux.peek_u32(dst, 0) == 9


def _wait_polling(rq: Request) -> None:
    deadline, backoff = Deadline(10), Backoff()
    while rq.state != RUNNING or rq.cs is None or rq.cs.commands < 1:
        assert not deadline.expired(), f"{rq!r} never started"
        backoff.pause()
