"""Engines and requests: ordering, dependencies, error propagation, retirement, idleness."""

from __future__ import annotations

import errno

import pytest
from gpu_exec_env import FakeContext, GpuExecEnv

from softgem import trace
from softgem.errors import SimBug
from softgem.gem.resv import Usage
from softgem.gem.wait import busy_flags
from softgem.gpu import mi
from softgem.gpu.engine import setup_engines
from softgem.gpu.request import RETIRED, Request, fatal_error
from softgem.gpu.vma import GpuVma
from softgem.sync import Fence


def _store(gpux: GpuExecEnv, dst: GpuVma, off: int, value: int) -> GpuVma:
    return gpux.batch(mi.store_dword_imm(dst.start + off, value))


def _spinner(gpux: GpuExecEnv) -> GpuVma:
    spin = gpux.bo(4096)
    for i, dw in enumerate([mi.MI_ARB_CHECK, *mi.batch_buffer_start(spin.start)]):
        gpux.poke_u32(spin, 4 * i, dw)
    return spin


def _end(gpux: GpuExecEnv, spin: GpuVma) -> None:
    gpux.poke_u32(spin, 0, mi.MI_BATCH_BUFFER_END)


def test_setup_registers_the_gen9_engines_once(gpux: GpuExecEnv) -> None:
    engines = setup_engines(gpux.gpu)
    assert {k: e.name for k, e in engines.items()} == {
        (0, 0): "rcs0", (1, 0): "bcs0", (2, 0): "vcs0", (3, 0): "vecs0"}
    assert setup_engines(gpux.gpu) is engines and engines[(1, 0)] is gpux.bcs


def test_request_fences_follow_their_engine_timeline(gpux: GpuExecEnv) -> None:
    b = gpux.batch([])
    r1, r2, r3 = gpux.request(gpux.rcs, b), gpux.request(gpux.rcs, b), gpux.request(gpux.bcs, b)
    assert r2.fence.is_later(r1.fence) and not r3.fence.is_later(r1.fence)
    assert (r1.fence.uabi_class, r3.fence.uabi_class) == (0, 1)
    for rq in (r1, r2, r3):
        rq.engine.submit(rq)
        assert rq.wait(10) and rq.state == RETIRED


def test_busy_reports_the_engine_of_a_running_request(gpux: GpuExecEnv) -> None:
    obj_vma, spin = gpux.bo(4096), _spinner(gpux)
    rq = gpux.request(gpux.bcs, spin)
    obj_vma.obj.resv.add_fence(rq.fence, Usage.WRITE)
    gpux.bcs.submit(rq)
    assert busy_flags(obj_vma.obj) == (1 + 1) | (0x10000 << 1)
    _end(gpux, spin)
    assert rq.wait(10) and busy_flags(obj_vma.obj) == 0


def test_one_contexts_requests_stay_in_order_while_others_overtake(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    gate = Fence("gate")
    ctx, other = FakeContext(), FakeContext()
    first = gpux.request(gpux.rcs, _store(gpux, dst, 0, 1), ctx)
    first.await_fence(gate)
    gpux.rcs.submit(first)
    second = gpux.submit(gpux.rcs, _store(gpux, dst, 4, 2), ctx)
    overtaker = gpux.submit(gpux.rcs, _store(gpux, dst, 8, 3), other)
    assert overtaker.wait(10)
    assert not first.completed() and not second.completed() and not gpux.rcs.idle()
    gate.signal()
    assert first.wait(10) and second.wait(10)
    assert gpux.peek(dst, 0, 12).view("<u4").tolist() == [1, 2, 3]


def test_a_request_waits_for_a_request_on_another_engine(gpux: GpuExecEnv) -> None:
    dst, spin = gpux.bo(4096), _spinner(gpux)
    blocker = gpux.submit(gpux.rcs, spin)
    waiter = gpux.request(gpux.bcs, _store(gpux, dst, 0, 9))
    waiter.await_fence(blocker.fence)
    gpux.bcs.submit(waiter)
    assert not gpux.bcs.wait_idle(0.05)
    assert gpux.peek_u32(dst, 0) == 0
    _end(gpux, spin)
    assert waiter.wait(10) and gpux.peek_u32(dst, 0) == 9


@pytest.mark.parametrize(("err", "runs"), [(errno.EIO, False), (errno.ENOMEM, False),
                                           (errno.EAGAIN, True), (errno.ETIMEDOUT, True)])
def test_an_awaited_fence_error_passes_on_and_only_fatal_ones_skip_the_batch(
        gpux: GpuExecEnv, err: int, runs: bool) -> None:
    dst = gpux.bo(4096)
    dep = Fence("dep")
    dep.set_error(err)
    rq = gpux.request(gpux.rcs, _store(gpux, dst, 0, 1))
    rq.await_fence(dep)
    gpux.rcs.submit(rq)
    dep.signal()
    assert rq.wait(10)
    assert rq.fence.error == err and fatal_error(err) != runs
    assert gpux.peek_u32(dst, 0) == (1 if runs else 0)


def test_skip_payload_completes_with_the_error_without_executing(gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    rq = gpux.request(gpux.rcs, _store(gpux, dst, 0, 1))
    rq.error = errno.EAGAIN
    rq.skip_payload = True
    gpux.rcs.submit(rq)
    assert rq.wait(10) and rq.fence.error == errno.EAGAIN
    assert gpux.peek_u32(dst, 0) == 0


def test_a_fatal_error_sticks_and_a_transient_one_is_replaced(gpux: GpuExecEnv) -> None:
    rq = gpux.request(gpux.rcs, gpux.batch([]))
    assert rq.set_error_once(errno.EAGAIN) and rq.set_error_once(errno.EIO)
    assert not rq.set_error_once(errno.EAGAIN) and rq.error == errno.EIO
    with pytest.raises(SimBug):
        rq.set_error_once(0)
    gpux.rcs.submit(rq)
    assert rq.wait(10) and rq.fence.error == errno.EIO


def test_on_retire_callbacks_run_in_order_after_the_fence_signalled(gpux: GpuExecEnv) -> None:
    seen: list[tuple[str, bool]] = []
    rq = gpux.request(gpux.rcs, gpux.batch([]))
    rq.on_retire.append(lambda r: seen.append(("a", r.fence.signaled())))
    rq.on_retire.append(lambda r: seen.append(("b", r is rq)))
    gpux.rcs.submit(rq)
    assert gpux.rcs.wait_idle(10)
    assert seen == [("a", True), ("b", True)]


def test_a_failing_on_retire_callback_is_reported_when_the_engine_stops(
        gpux: GpuExecEnv) -> None:
    rq = gpux.request(gpux.rcs, gpux.batch([]))
    rq.on_retire.append(lambda r: 1 // 0)
    gpux.rcs.submit(rq)
    assert rq.wait(10) and gpux.rcs.wait_idle(10)
    with pytest.raises(SimBug, match="raised"):
        gpux.rcs.fini()


def test_idle_and_wait_idle_follow_the_last_request(gpux: GpuExecEnv) -> None:
    assert gpux.rcs.idle()
    spin = _spinner(gpux)
    rq = gpux.submit(gpux.rcs, spin)
    assert not gpux.rcs.idle() and not gpux.rcs.wait_idle(0.02)
    assert gpux.rcs.inflight() == [rq]
    _end(gpux, spin)
    assert gpux.rcs.wait_idle(10) and gpux.rcs.idle()


def test_misuse_of_a_request_is_a_simulator_bug(gpux: GpuExecEnv) -> None:
    rq = gpux.submit(gpux.rcs, gpux.batch([]))
    with pytest.raises(SimBug):
        gpux.rcs.submit(rq)
    with pytest.raises(SimBug):
        rq.await_fence(Fence("late"))
    other = gpux.request(gpux.bcs, gpux.batch([]))
    with pytest.raises(SimBug):
        gpux.rcs.submit(other)
    with pytest.raises(SimBug):
        other.await_fence(other.fence)
    gpux.bcs.submit(other)
    assert rq.wait(10) and other.wait(10)


def test_requests_are_traced_from_submit_to_retire(gpux: GpuExecEnv) -> None:
    events: list[str] = []
    stop = trace.subscribe(lambda ev: events.append(ev.name) if ev.category == "gpu" else None)
    try:
        gpux.run(gpux.rcs, gpux.batch([]))
        gpux.run(gpux.rcs, gpux.batch([mi.mi_instr(0x3F)]))
    finally:
        stop()
    for name in ("request_submit", "request_start", "request_retire", "hang", "reset"):
        assert name in events
    assert events.index("request_submit") < events.index("request_start") < \
        events.index("request_retire")


def test_a_request_built_on_a_fresh_request_object_reports_its_state(
        gpux: GpuExecEnv) -> None:
    rq = Request(None, gpux.rcs, 0x1000, 64, vm=gpux.vm)
    assert "created" in repr(rq) and not rq.completed()
    gpux.rcs.submit(rq)     # nothing is bound at 0x1000: the fetch hangs the engine
    assert rq.wait(10) and rq.error == errno.EIO and "retired" in repr(rq)


def test_a_request_built_first_runs_first_on_its_timeline_even_if_submitted_last(
        gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    ctx = FakeContext()
    first = gpux.request(gpux.rcs, _store(gpux, dst, 0, 1), ctx)
    second = gpux.request(gpux.rcs, gpux.batch(mi.store_dword_imm(dst.start, 2)), ctx)
    assert second.fence.is_later(first.fence)
    gpux.rcs.submit(second)
    assert not second.wait(0.05)          # waits for the request built before it
    gpux.rcs.submit(first)
    assert first.wait(10) and second.wait(10)
    assert gpux.peek_u32(dst, 0) == 2


def test_an_idle_timeline_starts_over_on_a_fresh_fence_context(gpux: GpuExecEnv) -> None:
    ctx = FakeContext()
    done = gpux.run(gpux.rcs, gpux.batch([]), ctx)
    later = gpux.request(gpux.rcs, gpux.batch([]), ctx)
    other = gpux.request(gpux.rcs, gpux.batch([]), FakeContext())
    assert later.fence.context != done.fence.context != other.fence.context
    assert (later.fence.seqno, other.fence.seqno) == (1, 1)
    for rq in (later, other):
        gpux.rcs.submit(rq)
        assert rq.wait(10)


def test_a_hang_does_not_poison_the_next_request_of_the_same_context() -> None:
    """Requests queued behind each other on one context's timeline only wait for each other:
    a hung spinner ends with EIO, the store queued behind it still runs (status 1)."""
    gpux = GpuExecEnv(hang_timeout=0.3)
    try:
        ctx = FakeContext(bannable=False)
        dst, spin = gpux.bo(4096), _spinner(gpux)
        hung = gpux.submit(gpux.rcs, spin, ctx)
        store = gpux.submit(gpux.rcs, _store(gpux, dst, 0, 7), ctx)
        assert hung.wait(10) and hung.fence.error == errno.EIO
        assert store.wait(10) and store.fence.error == 0
        assert gpux.peek_u32(dst, 0) == 7
    finally:
        gpux.teardown()


def test_an_eagain_skipped_request_does_not_fail_the_next_one_on_its_context(
        gpux: GpuExecEnv) -> None:
    dst = gpux.bo(4096)
    ctx = FakeContext()
    skipped = gpux.request(gpux.rcs, _store(gpux, dst, 0, 1), ctx)
    skipped.error, skipped.skip_payload = errno.EAGAIN, True
    gpux.rcs.submit(skipped)
    after = gpux.submit(gpux.rcs, _store(gpux, dst, 4, 2), ctx)
    assert skipped.wait(10) and after.wait(10)
    assert (skipped.fence.error, after.fence.error) == (errno.EAGAIN, 0)
    assert gpux.peek(dst, 0, 8).view("<u4").tolist() == [0, 2]
