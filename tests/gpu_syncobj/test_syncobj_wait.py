"""IGT tests/syncobj_wait.c: SYNCOBJ_WAIT / RESET / SIGNAL, and execbuf's FENCE_ARRAY."""

from __future__ import annotations

import errno
import threading

import pytest
from gpuscene import Exec, Gem, Spinner, mi_store_dword, obj, reloc
from syncobjs import Sync, gettime_ns

from softgem import uapi
from softgem.units import PAGE_SIZE

ALL = uapi.DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL
SUBMIT = uapi.DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT
SIGNALED = uapi.DRM_SYNCOBJ_CREATE_SIGNALED
R = uapi.I915_GEM_DOMAIN_RENDER
SHORT = 20_000_000                  # 20 ms


@pytest.fixture
def s(gem: Gem) -> Sync:
    return Sync(gem.proc, gem.fd)


def test_wait_ladder(s: Sync) -> None:
    h = s.create()
    assert s.wait([h], flags=1 << 2) == (-errno.EINVAL, 0xFFFFFFFF)    # invalid-wait-flags
    assert s.wait([h], count=0) == (-errno.EINVAL, 0xFFFFFFFF)          # invalid-wait-zero
    assert s.wait([0xDEAD]) == (-errno.ENOENT, 0xFFFFFFFF)              # bad handle
    assert s.wait([h])[0] == -errno.EINVAL                    # invalid-wait-unsubmitted
    assert s.wait([h], flags=SUBMIT)[0] == -errno.ETIME       # for-submit, poll
    assert s.reset([h], pad=1) == -errno.EINVAL
    assert s.signal([]) == -errno.EINVAL
    assert s.signal([0xDEAD]) == -errno.ENOENT


def test_signal_then_reset(s: Sync) -> None:
    h = s.create()
    assert s.signal([h]) == 0
    assert s.wait([h]) == (0, 0)
    assert s.reset([h]) == 0
    assert s.wait([h])[0] == -errno.EINVAL
    assert s.wait([s.create(SIGNALED)]) == (0, 0)


def test_wait_any_reports_the_first_signalled_and_wait_all_needs_every_one(gem: Gem,
                                                                            s: Sync) -> None:
    spin = Spinner(gem)
    busy = s.create()
    assert s.import_sync_file(busy, spin.fence) == 0
    done = s.create(SIGNALED)
    assert s.wait([busy, done]) == (0, 1)
    assert s.wait([busy, done], flags=ALL)[0] == -errno.ETIME
    past = gettime_ns() - 1
    assert s.wait([busy], timeout_nsec=past)[0] == -errno.ETIME   # a time gone polls
    assert s.wait([busy], timeout_nsec=gettime_ns() + SHORT)[0] == -errno.ETIME
    spin.end()
    assert s.wait([busy, done], flags=ALL, timeout_nsec=gettime_ns() + 10**10) == (0, 0)
    spin.free()


def test_an_int64_max_timeout_waits_without_bound(s: Sync) -> None:
    h = s.create()
    timer = threading.Timer(0.05, lambda: s.signal([h]))
    timer.start()
    try:
        assert s.wait([h], flags=SUBMIT, timeout_nsec=(1 << 63) - 1) == (0, 0)
    finally:
        timer.join()


def test_wait_for_submit_sleeps_until_a_fence_arrives(s: Sync) -> None:
    h = s.create()
    timer = threading.Timer(0.05, lambda: s.signal([h]))
    timer.start()
    try:
        assert s.wait([h], flags=SUBMIT, timeout_nsec=gettime_ns() + 5 * 10**9) == (0, 0)
    finally:
        timer.join()


# -- execbuf: I915_EXEC_FENCE_ARRAY ----------------------------------------------------------
def _fence_array(gem: Gem, entries: list[tuple[int, int]]) -> dict[str, int]:
    page = gem.proc.mmap(0, PAGE_SIZE, 3, 0x22)
    gem.proc.write(page, b"".join(h.to_bytes(4, "little") + f.to_bytes(4, "little")
                                  for h, f in entries))
    return {"cliprects_ptr": page, "num_cliprects": len(entries)}


def test_a_signal_entry_gets_the_requests_fence(gem: Gem, s: Sync) -> None:
    h = s.create()
    spin_obj = Spinner(gem)
    target = gem.create(PAGE_SIZE)
    batch = gem.batch(mi_store_dword(0, 0x5))
    ex = Exec([obj(target), obj(batch)], {1: [reloc(target, 4, R, R)]},
              flags=uapi.I915_EXEC_FENCE_ARRAY | uapi.I915_EXEC_FENCE_IN, rsvd2=spin_obj.fence)
    assert gem.execbuf(ex, **_fence_array(gem, [(h, uapi.I915_EXEC_FENCE_SIGNAL)])) == 0
    assert s.wait([h])[0] == -errno.ETIME          # it has the request's fence, not done
    spin_obj.end()
    assert s.wait([h], timeout_nsec=gettime_ns() + 10**10) == (0, 0)
    assert gem.read(target, 0, 4) == (5).to_bytes(4, "little")
    spin_obj.free()


def test_a_wait_entry_holds_the_request_back(gem: Gem, s: Sync) -> None:
    empty = s.create()
    batch = gem.batch(mi_store_dword(0, 0x7))
    target = gem.create(PAGE_SIZE)
    ex = Exec([obj(target), obj(batch)], {1: [reloc(target, 4, R, R)]},
              flags=uapi.I915_EXEC_FENCE_ARRAY)
    wait = uapi.I915_EXEC_FENCE_WAIT
    assert gem.execbuf(ex, **_fence_array(gem, [(empty, wait)])) == -errno.EINVAL
    assert gem.execbuf(ex, **_fence_array(gem, [(0xDEAD, wait)])) == -errno.ENOENT
    assert gem.execbuf(ex, **_fence_array(gem, [(empty, 1 << 2)])) == -errno.EINVAL
    spin = Spinner(gem, flags=uapi.I915_EXEC_BLT)
    assert s.import_sync_file(empty, spin.fence) == 0
    assert gem.execbuf(ex, **_fence_array(gem, [(empty, wait)])) == 0
    assert gem.busy(target)                        # queued behind the spinner
    spin.end()
    gem.sync(target)
    assert gem.read(target, 0, 4) == (7).to_bytes(4, "little")
    spin.free()
