"""IGT tests/syncobj_timeline.c: points, QUERY, TRANSFER, TIMELINE_WAIT and execbuf's
TIMELINE_FENCES extension."""

from __future__ import annotations

import errno
import struct

import pytest
from gpuscene import BBE, Exec, Gem, Spinner, obj
from syncobjs import Sync, gettime_ns

from softgem import uapi
from softgem.units import PAGE_SIZE

SUBMIT = uapi.DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT
AVAILABLE = uapi.DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE
LAST = uapi.DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED
WAIT, SIGNAL = uapi.I915_EXEC_FENCE_WAIT, uapi.I915_EXEC_FENCE_SIGNAL


@pytest.fixture
def s(gem: Gem) -> Sync:
    return Sync(gem.proc, gem.fd)


def test_timeline_ladder(s: Sync) -> None:
    h = s.create()
    assert s.timeline_signal([h], [1], flags=1) == -errno.EINVAL
    assert s.timeline_signal([], []) == -errno.EINVAL
    assert s.query([h], flags=1 << 1) == -errno.EINVAL
    assert s.query([0xDEAD]) == -errno.ENOENT
    assert s.timeline_wait([h], [1], flags=1 << 3)[0] == -errno.EINVAL
    assert s.timeline_wait([h], [1])[0] == -errno.EINVAL           # no point 1 yet
    assert s.timeline_wait([h], [1], flags=SUBMIT)[0] == -errno.ETIME
    assert s.transfer(0xDEAD, 0, h, 0) == -errno.ENOENT
    assert s.transfer(h, 0, h, 0) == -errno.EINVAL                  # empty source


def test_signalled_points_are_queried_and_waited(s: Sync) -> None:
    h = s.create()
    assert s.query([h]) == [0]
    assert s.timeline_signal([h, h], [1, 3]) == 0
    assert s.query([h]) == [3] and s.query([h], flags=LAST) == [3]
    assert s.timeline_wait([h, h], [2, 3]) == (0, 0)
    assert s.timeline_wait([h], [4])[0] == -errno.EINVAL
    assert s.timeline_wait([h], [4], flags=SUBMIT | AVAILABLE)[0] == -errno.ETIME
    assert s.wait([h]) == (0, 0)                                       # point 0: the head


def test_an_unsignalled_point_holds_later_ones_and_the_query(gem: Gem, s: Sync) -> None:
    spin = Spinner(gem)
    binary, tl = s.create(), s.create()
    assert s.import_sync_file(binary, spin.fence) == 0
    assert s.timeline_signal([tl], [1]) == 0
    assert s.transfer(tl, 2, binary, 0) == 0                           # point 2: the spin
    assert s.timeline_signal([tl], [3]) == 0
    assert s.query([tl]) == [1] and s.query([tl], flags=LAST) == [3]
    assert s.timeline_wait([tl], [1]) == (0, 0)
    assert s.timeline_wait([tl], [3])[0] == -errno.ETIME               # 3 waits for 2
    assert s.timeline_wait([tl], [3], flags=AVAILABLE) == (0, 0)       # but is there
    spin.end()
    assert s.timeline_wait([tl], [3], timeout_nsec=gettime_ns() + 10**10) == (0, 0)
    assert s.query([tl]) == [3]
    back = s.create()
    assert s.transfer(back, 0, tl, 2) == 0                             # point -> binary
    assert s.wait([back]) == (0, 0)
    spin.free()


def _timeline_ext(gem: Gem, entries: list[tuple[int, int, int]]) -> dict[str, int]:
    page = gem.proc.mmap(0, PAGE_SIZE, 3, 0x22)
    fences, values = page + 256, page + 512
    gem.proc.write(page, struct.pack("<QII16xQQQ", 0, 0, 0, len(entries), fences, values))
    gem.proc.write(fences, b"".join(struct.pack("<II", h, f) for h, _, f in entries))
    gem.proc.write(values, b"".join(struct.pack("<Q", p) for _, p, _ in entries))
    return {"cliprects_ptr": page}


def test_execbuf_signals_and_waits_timeline_points(gem: Gem, s: Sync) -> None:
    tl = s.create()
    flags = uapi.I915_EXEC_USE_EXTENSIONS
    ex = Exec([obj(gem.batch([BBE, 0]))], flags=flags)
    assert gem.execbuf(ex, **_timeline_ext(gem, [(tl, 5, WAIT | SIGNAL)])) == -errno.EINVAL
    assert gem.execbuf(ex, **_timeline_ext(gem, [(tl, 5, WAIT)])) == -errno.EINVAL
    assert gem.execbuf(ex, **_timeline_ext(gem, [(0xDEAD, 5, SIGNAL)])) == -errno.ENOENT
    assert gem.execbuf(ex, **_timeline_ext(gem, [(tl, 5, SIGNAL)])) == 0
    assert s.query([tl], flags=LAST) == [5]
    assert s.timeline_wait([tl], [5], timeout_nsec=gettime_ns() + 10**10) == (0, 0)
    assert gem.execbuf(ex, **_timeline_ext(gem, [(tl, 5, WAIT), (tl, 6, SIGNAL)])) == 0
    assert s.timeline_wait([tl], [6], timeout_nsec=gettime_ns() + 10**10) == (0, 0)
    assert s.query([tl]) == [6]
