"""sync_file: a fence in the fd table, polled, waited, merged and passed back in."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest
from gpuscene import BBE, Exec, Gem, mi_store_dword, obj, reloc

import softgem
from softgem import uapi
from softgem.errors import EINVAL
from softgem.gpu.sync_file import (
    SyncFile,
    fence_status,
    sync_file_create,
    sync_file_get_fence,
    sync_file_merge,
)
from softgem.sync import Fence
from softgem.units import PAGE_SIZE

R = uapi.I915_GEM_DOMAIN_RENDER


@pytest.fixture
def proc() -> Iterator[softgem.Process]:
    m = softgem.Machine(memory=16 << 20)
    p = m.spawn()
    yield p
    m.shutdown()
    assert m.counters().leaks() == {}


def test_status_is_zero_pending_one_signalled_and_minus_errno_on_error() -> None:
    ok, bad = Fence("ok"), Fence("bad")
    assert fence_status(ok) == 0
    ok.signal()
    bad.set_error(errno.EIO)
    assert fence_status(bad) == 0          # an error counts only once signalled
    bad.signal()
    assert (fence_status(ok), fence_status(bad)) == (1, -errno.EIO)


def test_an_installed_sync_file_polls_and_waits_on_its_fence(proc: softgem.Process) -> None:
    fence = Fence("rq")
    fd = proc.fd_install(sync_file_create(fence))
    sf = proc.file(fd)
    assert isinstance(sf, SyncFile)
    assert not sf.poll()
    assert sf.wait(0.0) is False
    fence.signal()
    assert sf.poll() and sf.wait(0.0) and sf.status() == 1
    proc.close(fd)


def test_get_fence_gives_back_the_fence_behind_a_sync_file_fd(proc: softgem.Process) -> None:
    fence = Fence("rq")
    fd = proc.fd_install(sync_file_create(fence))
    assert sync_file_get_fence(proc, fd) is fence
    proc.close(fd)


def test_get_fence_refuses_other_files_and_bad_fds_with_einval(proc: softgem.Process) -> None:
    card = proc.open("/dev/dri/card0")
    with pytest.raises(EINVAL):
        sync_file_get_fence(proc, card)
    with pytest.raises(EINVAL):
        sync_file_get_fence(proc, 999)
    proc.close(card)


def test_closing_the_last_fd_releases_the_fence(proc: softgem.Process) -> None:
    sf = sync_file_create(Fence("rq"))
    fd = proc.fd_install(sf)
    dup = proc.dup(fd)
    proc.close(fd)
    assert sf.fence is not None
    proc.close(dup)
    assert sf.fence is None


def test_a_merged_fence_signals_after_both_with_the_first_error() -> None:
    a, b = Fence("a"), Fence("b")
    merged = sync_file_merge([a, b])
    a.set_error(errno.EIO)
    a.signal()
    assert merged.status() == 0
    b.signal()
    assert merged.status() == -errno.EIO


def test_merging_fences_that_already_signalled_gives_a_signalled_fence() -> None:
    a = Fence("a")
    a.signal()
    assert sync_file_merge([a, a]).status() == 1
    assert sync_file_merge([]).status() == 1


# -- the out-fence descriptor is reserved before the request is built ----------------------------
def _request_number(gem: Gem, fd: int) -> int:
    """The engine-wide number of the request behind an out-fence (creation order)."""
    sf = gem.proc.file(fd)
    assert isinstance(sf, SyncFile) and sf.fence is not None
    return int(sf.fence.request.seqno)        # type: ignore[attr-defined]


def test_no_descriptor_for_the_out_fence_queues_nothing(gem: Gem) -> None:
    """EMFILE from get_unused_fd_flags comes before the request exists: the store never
    runs, the engine's timeline does not move, no descriptor is left behind."""
    first = Exec([obj(gem.batch([BBE, 0]))], flags=uapi.I915_EXEC_FENCE_OUT)
    assert gem.execbuf(first) == 0
    target = gem.create(PAGE_SIZE)
    batch = gem.batch(mi_store_dword(0, 0xBAD))
    fds = gem.proc.files.fds()
    # The scratch mapping gem.execbuf makes takes no fd: the limit is the next free one.
    gem.proc.setrlimit_nofile(max(fds) + 1)
    ex = Exec([obj(target), obj(batch)], {1: [reloc(target, 4, R, R)]},
              flags=uapi.I915_EXEC_FENCE_OUT)
    assert gem.execbuf(ex) == -errno.EMFILE
    assert gem.proc.files.fds() == fds
    assert gem.busy(target) == 0 and gem.busy(batch) == 0
    gem.proc.setrlimit_nofile(1024)
    after = Exec([obj(gem.batch([BBE, 0]))], flags=uapi.I915_EXEC_FENCE_OUT)
    assert gem.execbuf(after) == 0
    assert _request_number(gem, after.out_fence) == _request_number(gem, first.out_fence) + 1
    gem.sync(target)
    assert gem.read(target, 0, 4) == bytes(4)
    for fd in (first.out_fence, after.out_fence):
        gem.proc.close(fd)


def test_a_failure_after_the_reservation_gives_the_descriptor_back(gem: Gem) -> None:
    fds = gem.proc.files.fds()
    ex = Exec([obj(gem.batch([BBE, 0]))], flags=uapi.I915_EXEC_FENCE_OUT, rsvd1=77)
    assert gem.execbuf(ex) == -errno.ENOENT            # unknown context, after the reservation
    assert gem.proc.files.fds() == fds
    ok = Exec([obj(gem.batch([BBE, 0]))], flags=uapi.I915_EXEC_FENCE_OUT)
    assert gem.execbuf(ok) == 0
    assert ok.out_fence == min(set(range(3, 1024)) - set(fds))   # the lowest one was free
    gem.proc.close(ok.out_fence)


def test_a_forked_child_does_not_inherit_a_reserved_descriptor(proc: softgem.Process) -> None:
    fd = proc.get_unused_fd_flags(0)
    child = proc.fork()
    assert fd not in child.files.fds()
    with pytest.raises(OSError) as err:
        proc.close(fd)
    assert err.value.errno == errno.EBADF
    proc.put_unused_fd(fd)
    child.exit()


# -- SYNC_IOC_MERGE / SYNC_IOC_FILE_INFO through proc.ioctl ------------------------------------
def test_merge_and_file_info_on_out_fences(gem: Gem) -> None:
    a = Exec([obj(gem.batch([BBE, 0]))], flags=uapi.I915_EXEC_FENCE_OUT)
    b = Exec([obj(gem.batch([BBE, 0]))], flags=uapi.I915_EXEC_FENCE_OUT | uapi.I915_EXEC_BLT)
    assert gem.execbuf(a) == 0 and gem.execbuf(b) == 0
    p = gem.proc
    for fd in (a.out_fence, b.out_fence):
        assert isinstance(p.file(fd), SyncFile) and p.file(fd).wait(5.0)  # type: ignore
    bad = uapi.sync_merge_data(name=b"m", fd2=gem.fd)
    with pytest.raises(OSError) as err:
        p.ioctl(a.out_fence, uapi.SYNC_IOC_MERGE, bad)
    assert err.value.errno == errno.ENOENT                       # fd2 is no sync_file
    with pytest.raises(OSError) as err:
        p.ioctl(a.out_fence, uapi.SYNC_IOC_MERGE, uapi.sync_merge_data(fd2=b.out_fence, pad=1))
    assert err.value.errno == errno.EINVAL
    m = uapi.sync_merge_data(name=b"both", fd2=b.out_fence)
    p.ioctl(a.out_fence, uapi.SYNC_IOC_MERGE, m)
    info = uapi.sync_file_info()
    p.ioctl(m.fence, uapi.SYNC_IOC_FILE_INFO, info)
    assert (info.name, info.status, info.num_fences) == (b"both", 1, 1)   # signalled: a stub
    info = uapi.sync_file_info()
    p.ioctl(a.out_fence, uapi.SYNC_IOC_FILE_INFO, info)
    assert (info.status, info.num_fences) == (1, 1) and info.name.startswith(b"i915-")
    with pytest.raises(OSError) as err:
        p.ioctl(a.out_fence, uapi.SYNC_IOC_FILE_INFO, uapi.sync_file_info(flags=1))
    assert err.value.errno == errno.EINVAL
    with pytest.raises(OSError) as err:
        p.ioctl(a.out_fence, 0xC0303E07, 0)
    assert err.value.errno == errno.ENOTTY
    for fd in (a.out_fence, b.out_fence, m.fence):
        p.close(fd)


def test_file_info_lists_each_pending_fence_of_a_merge(gem: Gem) -> None:
    x, y = Fence("x"), Fence("y")
    p = gem.proc
    fx, fy = p.fd_install(sync_file_create(x)), p.fd_install(sync_file_create(y))
    m = uapi.sync_merge_data(name=b"xy", fd2=fy)
    p.ioctl(fx, uapi.SYNC_IOC_MERGE, m)
    page = p.mmap(0, PAGE_SIZE, 3, 0x22)
    with pytest.raises(OSError) as err:
        p.ioctl(m.fence, uapi.SYNC_IOC_FILE_INFO,
                uapi.sync_file_info(num_fences=1, sync_fence_info=page))
    assert err.value.errno == errno.EINVAL                       # two fences, one slot
    info = uapi.sync_file_info(num_fences=2, sync_fence_info=page)
    p.ioctl(m.fence, uapi.SYNC_IOC_FILE_INFO, info)
    assert (info.num_fences, info.status) == (2, 0)
    entries = [uapi.sync_fence_info.from_buffer_copy(p.read(page + 80 * i, 80))
               for i in range(2)]
    assert [e.obj_name for e in entries] == [b"x", b"y"] and entries[0].driver_name == b"i915"
    x.signal()
    y.set_error(errno.EIO)
    y.signal()
    p.ioctl(m.fence, uapi.SYNC_IOC_FILE_INFO, info)
    assert info.status == -errno.EIO
    for fd in (fx, fy, m.fence):
        p.close(fd)
    p.munmap(page, PAGE_SIZE)
