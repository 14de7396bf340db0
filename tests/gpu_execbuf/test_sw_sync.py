"""sw_sync timelines (gpu/sw_sync.py) in the simulated machine: what the kernel's
drivers/dma-buf/sw_sync.c promises beyond the host client's steps."""

from __future__ import annotations

import ctypes
import errno
import gc
from collections.abc import Iterator

import pytest

from softgem import Machine
from softgem.gpu.sw_sync import (
    SW_SYNC_IOC_CREATE_FENCE,
    SW_SYNC_IOC_INC,
    SW_SYNC_PATHS,
    SwSyncTimeline,
    SyncPt,
)
from softgem.gpu.sync_file import SyncFile, sync_file_merge
from softgem.gpu.sync_file_ioctl import SYNC_IOC_SET_DEADLINE
from softgem.machine import Process


class _Create(ctypes.Structure):
    _fields_ = [("value", ctypes.c_uint32), ("name", ctypes.c_char * 32),
                ("fence", ctypes.c_int32)]


@pytest.fixture
def proc() -> Iterator[Process]:
    m = Machine(memory=16 << 20)
    p = m.spawn("tl-test")
    yield p
    p.exit()
    assert m.counters().leaks() == {}


def _fence(p: Process, tl: int, value: int) -> SyncFile:
    c = _Create(value=value)
    p.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, c)
    sf = p.file(c.fence)
    assert isinstance(sf, SyncFile)
    return sf


def test_a_pending_value_asked_twice_is_one_fence(proc: Process) -> None:
    tl = proc.open(SW_SYNC_PATHS[0])
    a, b = _fence(proc, tl, 3), _fence(proc, tl, 3)
    assert a.fence is b.fence and isinstance(a.fence, SyncPt)
    assert _fence(proc, tl, 4).fence is not a.fence


def test_points_signal_in_timeline_order_when_one_increment_passes_them(proc: Process) -> None:
    tl = proc.open(SW_SYNC_PATHS[0])
    seen: list[int] = []
    files = [_fence(proc, tl, v) for v in (7, 2, 5, 9)]
    for sf in files:
        assert sf.fence is not None
        sf.fence.add_callback(lambda f: seen.append(f.seqno))
    proc.ioctl(tl, SW_SYNC_IOC_INC, ctypes.c_uint32(8))
    assert seen == [2, 5, 7] and files[3].status() == 0
    proc.close(tl)
    assert seen == [2, 5, 7, 9] and files[3].status() == -errno.ENOENT


def test_an_increment_over_int_max_is_split_and_wraps() -> None:
    t = SwSyncTimeline("t")
    near = t.create_point(0x7FFFFFFF)
    t.advance(0x7FFFFFFF)
    assert near.signaled() and t.value == 0x7FFFFFFF
    wrapped = t.create_point(3)                 # 0x80000004 ahead: counted as reached
    assert wrapped.signaled()
    t.advance(0x7FFFFFFF)
    t.advance(0x7FFFFFFF)
    assert t.value == (3 * 0x7FFFFFFF) & 0xFFFFFFFF
    t.release()


def test_forgotten_points_hold_no_memory(proc: Process) -> None:
    """Points whose sync_files were closed and that nothing waits on are gone, as the kernel
    frees them: a program creating and dropping fences forever holds none of them."""
    tl = proc.open(SW_SYNC_PATHS[0])
    timeline = proc.file(tl)
    assert isinstance(timeline, SwSyncTimeline)
    for v in range(1, 2001):
        c = _Create(value=v)
        proc.ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, c)
        proc.close(c.fence)
    gc.collect()
    assert len(timeline._pending) == 0
    kept = _fence(proc, tl, 5000)
    assert len(timeline._pending) == 1 and kept.status() == 0


def test_a_deadline_on_a_merge_reaches_each_point() -> None:
    t1, t2 = SwSyncTimeline("a"), SwSyncTimeline("b")
    p1, p2 = t1.create_point(1), t2.create_point(1)
    merged = sync_file_merge([p1, p2])
    assert merged.fence is not p1 and merged.fence is not p2
    class _Deadline(ctypes.Structure):
        _fields_ = [("deadline_ns", ctypes.c_uint64), ("pad", ctypes.c_uint64)]

    merged.ioctl(None, SYNC_IOC_SET_DEADLINE, _Deadline(deadline_ns=42))
    assert (p1.deadline, p2.deadline) == (42, 42)
    t1.release()
    t2.release()
    assert merged.status() == -errno.ENOENT


def test_a_merge_left_with_one_pending_fence_is_that_fence() -> None:
    t = SwSyncTimeline("a")
    done, pending = t.create_point(0), t.create_point(1)
    assert done.signaled()
    assert sync_file_merge([done, pending]).fence is pending
    t.release()
