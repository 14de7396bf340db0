"""PRIME: exporting objects as dma-buf fds and importing them back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from softgem.errors import EBADF, EINVAL, EMFILE, ENOENT, ENOTTY, KernelError
from softgem.gem.create import gem_create
from softgem.gem.device import GemDevice
from softgem.gem.file import DrmFile
from softgem.gem.prime import DRM_CLOEXEC, DRM_RDWR, DmaBuf, fd_to_handle, handle_to_fd
from softgem.gem.userptr import userptr_create
from softgem.mm import Mm, PhysMem
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from softgem.sync import Kref
from softgem.units import PAGE_SIZE


class Fds:
    """A minimal fd table: install takes over a reference, close drops it."""

    def __init__(self, limit: int = 64) -> None:
        self.files: dict[int, Any] = {}
        self.limit = limit

    def install(self, f: Any, flags: int = 0) -> int:
        if len(self.files) >= self.limit:
            raise EMFILE("fd table full")
        fd = next(i for i in range(3, 1 << 20) if i not in self.files)
        self.files[fd] = f
        return fd

    def get(self, fd: int) -> Any:
        f = self.files.get(fd)
        if f is None:
            raise EBADF(f"fd {fd}")
        f.kref.get()
        return f

    @staticmethod
    def put(f: Any) -> None:
        f.kref.put(f.release)

    def close(self, fd: int) -> None:
        self.put(self.files.pop(fd))


class NotADmaBuf:
    name = "pipe"

    def __init__(self) -> None:
        self.kref = Kref()

    def release(self) -> None:
        pass


@pytest.fixture
def dev() -> Iterator[GemDevice]:
    dev = GemDevice(PhysMem(64))
    yield dev
    assert dev.counters()["objects"] == 0


@pytest.fixture
def fds(dev: GemDevice) -> Iterator[Fds]:
    table = Fds()
    yield table
    for fd in list(table.files):
        table.close(fd)


@pytest.fixture
def a(dev: GemDevice) -> Iterator[DrmFile]:
    f = dev.open(0)
    yield f
    f.release()


@pytest.fixture
def b(dev: GemDevice) -> Iterator[DrmFile]:
    f = dev.open(128)
    yield f
    f.release()


def _export(dev: GemDevice, file: DrmFile, handle: int, fds: Fds, flags: int = 0) -> int:
    return handle_to_fd(dev, file, handle, flags, fds.install)


def _import(dev: GemDevice, file: DrmFile, fd: int, fds: Fds) -> int:
    return fd_to_handle(dev, file, fd, fds.get, fds.put)


def _same_object(fa: DrmFile, ha: int, fb: DrmFile, hb: int) -> bool:
    oa, ob = fa.lookup(ha), fb.lookup(hb)
    try:
        return oa is ob
    finally:
        oa.put()
        ob.put()


@pytest.mark.parametrize(("handle", "flags", "err"), [
    (99, 0x1, EINVAL),                   # flags before the handle
    (99, DRM_CLOEXEC | DRM_RDWR | 0x100, EINVAL),
    (99, DRM_CLOEXEC, ENOENT),
])
def test_handle_to_fd_ladder(dev: GemDevice, a: DrmFile, fds: Fds, handle: int, flags: int,
                             err: type[KernelError]) -> None:
    gem_create(dev, a, PAGE_SIZE)
    with pytest.raises(err):
        _export(dev, a, handle, fds, flags)
    assert fds.files == {}


def test_a_userptr_cannot_be_exported(dev: GemDevice, a: DrmFile, fds: Fds) -> None:
    mm = Mm(dev.phys)
    buf = mm.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    handle = userptr_create(dev, a, mm, buf, PAGE_SIZE, 0)
    with pytest.raises(EINVAL):
        _export(dev, a, handle, fds)
    a.handle_delete(handle)
    mm.exit_mmap()


def test_every_export_of_an_object_is_the_same_dma_buf(dev: GemDevice, a: DrmFile,
                                                       fds: Fds) -> None:
    handle, _ = gem_create(dev, a, PAGE_SIZE)
    fd1 = _export(dev, a, handle, fds, DRM_CLOEXEC | DRM_RDWR)
    fd2 = _export(dev, a, handle, fds)
    assert fd1 != fd2 and fds.files[fd1] is fds.files[fd2]
    obj = a.lookup(handle)
    assert obj.dma_buf is fds.files[fd1]
    obj.put()


def test_importing_into_the_exporting_file_gives_the_same_handle(
        dev: GemDevice, a: DrmFile, fds: Fds) -> None:
    handle, _ = gem_create(dev, a, PAGE_SIZE)
    fd = _export(dev, a, handle, fds)
    assert _import(dev, a, fd, fds) == handle


def test_importing_into_another_file_gives_a_handle_to_the_same_object(
        dev: GemDevice, a: DrmFile, b: DrmFile, fds: Fds) -> None:
    ha, _ = gem_create(dev, a, 2 * PAGE_SIZE)
    gem_create(dev, b, PAGE_SIZE)
    fd = _export(dev, a, ha, fds)
    hb = _import(dev, b, fd, fds)
    assert hb == 2 and _same_object(a, ha, b, hb)
    assert _import(dev, b, fd, fds) == hb          # b remembers that dma-buf now


@pytest.mark.parametrize(("what", "err"), [("bad-fd", EBADF), ("not-a-dma-buf", EINVAL)])
def test_fd_to_handle_refuses_what_is_not_a_dma_buf(dev: GemDevice, a: DrmFile, fds: Fds,
                                                    what: str, err: type[KernelError]) -> None:
    fd = 42 if what == "bad-fd" else fds.install(NotADmaBuf())
    with pytest.raises(err):
        _import(dev, a, fd, fds)
    assert a.nr_handles() == 0


def test_the_dma_buf_keeps_the_object_after_its_handles_are_gone(
        dev: GemDevice, a: DrmFile, b: DrmFile, fds: Fds) -> None:
    handle, _ = gem_create(dev, a, PAGE_SIZE)
    fd = _export(dev, a, handle, fds)
    a.handle_delete(handle)
    assert dev.counters()["objects"] == 1
    hb = _import(dev, b, fd, fds)                 # a new handle on the old object
    obj = b.lookup(hb)
    assert obj.dma_buf is fds.files[fd]
    obj.put()
    b.handle_delete(hb)
    fds.close(fd)
    assert dev.counters()["objects"] == 0


def test_closing_the_fd_first_leaves_the_object_to_its_handles(
        dev: GemDevice, a: DrmFile, fds: Fds) -> None:
    handle, _ = gem_create(dev, a, PAGE_SIZE)
    fd = _export(dev, a, handle, fds)
    fds.close(fd)
    obj = a.lookup(handle)
    assert isinstance(obj.dma_buf, DmaBuf)          # obj.dma_buf still holds the dma-buf
    obj.put()
    fd = _export(dev, a, handle, fds)               # and it is handed out again
    a.handle_delete(handle)
    fds.close(fd)
    assert dev.counters()["objects"] == 0


def test_a_full_fd_table_fails_the_export_and_leaks_nothing(dev: GemDevice,
                                                            a: DrmFile) -> None:
    fds = Fds(limit=0)
    handle, _ = gem_create(dev, a, PAGE_SIZE)
    with pytest.raises(EMFILE):
        _export(dev, a, handle, fds)
    a.handle_delete(handle)
    assert dev.counters()["objects"] == 0


def test_a_dma_buf_maps_its_shmem_file_and_refuses_unknown_ioctls(dev: GemDevice, a: DrmFile,
                                                                  fds: Fds) -> None:
    handle, _ = gem_create(dev, a, PAGE_SIZE)
    buf = fds.files[_export(dev, a, handle, fds)]
    with pytest.raises(ENOTTY):
        buf.ioctl(None, 0x1234, 0)
    mapping = buf.mmap_file()          # i915_gem_dmabuf_mmap: the object's shmem file
    assert mapping.filp.obj is buf.obj and mapping.writable == bool(buf.flags & 0o2)
