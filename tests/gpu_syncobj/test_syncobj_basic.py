"""IGT tests/syncobj_basic.c: creation, destruction and fd round trips, errno for errno."""

from __future__ import annotations

import errno

import pytest
from gpuscene import Gem
from syncobjs import Sync

from softgem import uapi
from softgem.gpu.sync_file import SyncFile
from softgem.gpu.syncobj import SyncobjFile
from softgem.uapi.handlers_syncobj import file_syncobjs

BAD = 0xDEADBEEF


@pytest.fixture
def s(gem: Gem) -> Sync:
    return Sync(gem.proc, gem.fd)


def test_the_device_advertises_sync_objects_and_timelines(s: Sync) -> None:
    for cap in (uapi.DRM_CAP_SYNCOBJ, uapi.DRM_CAP_SYNCOBJ_TIMELINE):
        req = uapi.drm_get_cap(capability=cap)
        assert s.ioctl(uapi.DRM_IOCTL_GET_CAP, req) == 0 and req.value == 1


def test_bad_arguments_get_the_kernels_errnos(s: Sync) -> None:
    assert s.create_raw(1 << 1) == -errno.EINVAL                  # bad-flags-create
    assert s.destroy(BAD) == -errno.EINVAL                        # bad-destroy
    h = s.create()
    assert s.destroy(h, pad=1) == -errno.EINVAL                   # bad-pad
    assert s.handle_to_fd(BAD) == -errno.EINVAL                   # bad-handle-to-fd
    assert s.handle_to_fd(h, flags=1 << 1) == -errno.EINVAL       # bad-flags-handle-to-fd
    assert s.handle_to_fd(h, pad=1) == -errno.EINVAL
    assert s.fd_to_handle(-1) == -errno.EINVAL                    # bad-fd-to-handle
    assert s.fd_to_handle(s.fd) == -errno.EINVAL                  # a drm fd is no syncobj
    assert s.fd_to_handle(-1, flags=1 << 1) == -errno.EINVAL      # bad-flags-fd-to-handle
    assert s.fd_to_handle(-1, pad=1) == -errno.EINVAL
    assert s.destroy(h) == 0
    assert s.destroy(h) == -errno.EINVAL                          # test-valid-cycle


def test_handles_are_the_lowest_free_ids_from_one(s: Sync) -> None:
    a, b = s.create(), s.create()
    assert (a, b) == (1, 2)
    s.destroy(a)
    assert s.create() == 1


def test_an_fd_carries_the_syncobj_to_another_file(gem: Gem, s: Sync) -> None:
    h = s.create()
    fd = s.handle_to_fd(h)
    assert isinstance(gem.proc.file(fd), SyncobjFile)
    other = Sync(gem.proc, gem.proc.open("/dev/dri/renderD128"))
    h2 = other.fd_to_handle(fd)
    gem.proc.close(fd)
    s.destroy(h)                                   # the other file's handle keeps it alive
    assert other.wait([h2]) == (-errno.EINVAL, 0xFFFFFFFF)     # no fence yet
    assert other.signal([h2]) == 0
    assert other.wait([h2]) == (0, 0)
    gem.proc.close(other.fd)


def test_export_and_import_of_sync_files(gem: Gem, s: Sync) -> None:
    h = s.create()
    assert s.export_sync_file(h) == -errno.EINVAL                 # nothing to export
    assert s.export_sync_file(BAD) == -errno.ENOENT
    signalled = s.create(uapi.DRM_SYNCOBJ_CREATE_SIGNALED)
    fd = s.export_sync_file(signalled)
    sf = gem.proc.file(fd)
    assert isinstance(sf, SyncFile) and sf.poll() and sf.status() == 1
    assert s.import_sync_file(BAD, fd) == -errno.ENOENT
    assert s.import_sync_file(h, s.fd) == -errno.EINVAL          # not a sync_file
    assert s.import_sync_file(h, fd) == 0
    assert s.wait([h]) == (0, 0)
    gem.proc.close(fd)


def test_closing_the_file_drops_every_syncobj(gem: Gem) -> None:
    fd = gem.proc.open("/dev/dri/renderD128")
    s = Sync(gem.proc, fd)
    h = s.create()
    keep = s.handle_to_fd(h)
    s.create()
    drm_file = gem.proc.file(fd).file          # type: ignore[attr-defined]
    assert file_syncobjs(drm_file) == 2
    gem.proc.close(fd)
    assert file_syncobjs(drm_file) == 0
    syncobj_file = gem.proc.file(keep)
    assert isinstance(syncobj_file, SyncobjFile) and syncobj_file.syncobj is not None
    gem.proc.close(keep)
    assert syncobj_file.syncobj is None


def test_the_handle_to_fd_needs_a_free_descriptor(gem: Gem, s: Sync) -> None:
    h = s.create(uapi.DRM_SYNCOBJ_CREATE_SIGNALED)
    fds = gem.proc.files.fds()
    gem.proc.setrlimit_nofile(max(fds) + 1)
    assert s.handle_to_fd(h) == -errno.EMFILE
    assert s.export_sync_file(h) == -errno.EMFILE
    assert gem.proc.files.fds() == fds
    gem.proc.setrlimit_nofile(1024)
