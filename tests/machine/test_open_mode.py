"""The open mode of a DRM fd reaches the mm (``do_mmap`` and FMODE_READ / FMODE_WRITE), as an
IGT test opening the device read-only would see it."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest

import softgem
from softgem import igt, uapi
from softgem.posix import MAP_SHARED, O_RDONLY, O_RDWR, O_WRONLY, PROT_READ, PROT_WRITE
from softgem.units import PAGE_SIZE

RW = PROT_READ | PROT_WRITE
MMAP_TYPES = [uapi.I915_MMAP_OFFSET_WB, uapi.I915_MMAP_OFFSET_WC, uapi.I915_MMAP_OFFSET_GTT]


@pytest.fixture
def proc() -> Iterator[softgem.Process]:
    machine = softgem.Machine(memory=32 << 20)
    p = machine.spawn()
    yield p
    p.exit()
    machine.shutdown()
    assert machine.counters().leaks() == {}


def _bo(proc: softgem.Process, flags: int, mmap_type: int) -> tuple[int, int]:
    fd = proc.open("/dev/dri/card0", flags)
    handle = igt.gem_create(proc, fd, PAGE_SIZE)
    igt.gem_write(proc, fd, handle, 0, b"seen")
    return fd, igt.gem_mmap_offset(proc, fd, handle, mmap_type)


def _errno(fn: object, *args: object) -> int:
    try:
        fn(*args)  # type: ignore[operator]
    except OSError as e:
        return e.errno or -1
    return 0


@pytest.mark.parametrize("mmap_type", MMAP_TYPES)
def test_a_read_only_fd_refuses_a_writable_shared_mapping(
        proc: softgem.Process, mmap_type: int) -> None:
    fd, offset = _bo(proc, O_RDONLY, mmap_type)
    assert _errno(proc.mmap, 0, PAGE_SIZE, RW, MAP_SHARED, fd, offset) == errno.EACCES
    ptr = proc.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, offset)
    assert proc.read(ptr, 4) == b"seen"
    with pytest.raises(softgem.Segfault):
        proc.write(ptr, b"x")
    # VM_MAYWRITE is gone: mprotect cannot make it writable later.
    assert _errno(proc.mprotect, ptr, PAGE_SIZE, RW) == errno.EACCES
    assert _errno(proc.mprotect, ptr, PAGE_SIZE, PROT_READ) == 0
    proc.munmap(ptr, PAGE_SIZE)


@pytest.mark.parametrize("mmap_type", MMAP_TYPES)
def test_a_read_write_fd_may_map_read_only_then_mprotect_to_write(
        proc: softgem.Process, mmap_type: int) -> None:
    fd, offset = _bo(proc, O_RDWR, mmap_type)
    ptr = proc.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, offset)
    proc.mprotect(ptr, PAGE_SIZE, RW)
    proc.write(ptr, b"SEEN")
    assert proc.read(ptr, 4) == b"SEEN"
    proc.munmap(ptr, PAGE_SIZE)


def test_a_write_only_fd_cannot_be_mapped_at_all(proc: softgem.Process) -> None:
    fd, offset = _bo(proc, O_WRONLY, uapi.I915_MMAP_OFFSET_WB)
    for prot in (PROT_READ, RW, PROT_WRITE):
        assert _errno(proc.mmap, 0, PAGE_SIZE, prot, MAP_SHARED, fd, offset) == errno.EACCES


def test_the_mode_belongs_to_the_open_not_the_device(proc: softgem.Process) -> None:
    ro, offset = _bo(proc, O_RDONLY, uapi.I915_MMAP_OFFSET_WB)
    rw = proc.dup(ro)                                   # dup shares the open file description
    assert _errno(proc.mmap, 0, PAGE_SIZE, RW, MAP_SHARED, rw, offset) == errno.EACCES
    other = proc.open("/dev/dri/card0", O_RDWR)         # a new open has its own mode
    h = igt.gem_create(proc, other, PAGE_SIZE)
    ptr = igt.gem_mmap__wb(proc, other, h, PAGE_SIZE)
    proc.write(ptr, b"ok")
    proc.munmap(ptr, PAGE_SIZE)
