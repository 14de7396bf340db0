"""sync_file: a fence in the fd table, polled, waited, merged and passed back in."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest

import softgem
from softgem.errors import EINVAL
from softgem.gpu.sync_file import (
    SyncFile,
    fence_status,
    sync_file_create,
    sync_file_get_fence,
    sync_file_merge,
)
from softgem.sync import Fence


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
