"""End to end through Process.ioctl: DRM fds in fd tables, fork, PRIME, FLINK, mmap offsets."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest

import softgem
from softgem import igt, uapi
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE
from softgem.uapi.drmfd import DrmFd
from softgem.units import PAGE_SIZE

RW = PROT_READ | PROT_WRITE



@pytest.fixture
def machine() -> Iterator[softgem.Machine]:
    m = softgem.Machine(memory=64 << 20)
    yield m
    m.shutdown()
    assert m.counters().leaks() == {}


@pytest.fixture
def proc(machine: softgem.Machine) -> softgem.Process:
    return machine.spawn()


def anon(proc: softgem.Process, length: int = PAGE_SIZE) -> int:
    return proc.mmap(0, length, RW, MAP_PRIVATE | MAP_ANONYMOUS)


def failure(fn: object, *args: object) -> int:
    try:
        fn(*args)  # type: ignore[operator]
    except OSError as err:
        return err.errno or -1
    return 0


def test_an_open_puts_a_drm_fd_in_the_table(proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    f = proc.file(fd)
    assert isinstance(f, DrmFd) and f.name == "/dev/dri/card0"
    rfd = igt.drm_open_driver_render(proc)
    assert proc.file(rfd).name == "/dev/dri/renderD128"


def test_igt_helpers_round_trip_data(proc: softgem.Process) -> None:
    fd = igt.drm_open_driver_render(proc)
    h = igt.gem_create(proc, fd, 3 * PAGE_SIZE)
    igt.gem_write(proc, fd, h, PAGE_SIZE - 2, b"across")
    assert igt.gem_read(proc, fd, h, PAGE_SIZE - 2, 6) == b"across"
    assert igt.gem_getparam(proc, fd, uapi.I915_PARAM_HAS_USERPTR_PROBE) == 1
    igt.gem_set_tiling(proc, fd, h, uapi.I915_TILING_X, 512)
    assert igt.gem_get_tiling(proc, fd, h)[0] == uapi.I915_TILING_X
    igt.gem_close(proc, fd, h)
    assert failure(igt.gem_close, proc, fd, h) == errno.EINVAL


def test_mmap_gtt_is_mmap_offset_with_type_gtt(proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    h = igt.gem_create(proc, fd, PAGE_SIZE)
    gtt = uapi.drm_i915_gem_mmap_gtt(handle=h)
    proc.ioctl(fd, uapi.DRM_IOCTL_I915_GEM_MMAP_GTT, gtt)
    assert gtt.offset == igt.gem_mmap_offset(proc, fd, h, uapi.I915_MMAP_OFFSET_GTT)
    assert gtt.offset != igt.gem_mmap_offset(proc, fd, h, uapi.I915_MMAP_OFFSET_WB)


def test_mmap_gtt_never_reads_past_its_16_bytes(proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    h = igt.gem_create(proc, fd, PAGE_SIZE)
    arg = anon(proc)
    # A full MMAP_OFFSET struct asking for WB and an extension chain, sent as MMAP_GTT.
    proc.write(arg, bytes(uapi.drm_i915_gem_mmap_offset(
        handle=h, flags=uapi.I915_MMAP_OFFSET_WB, extensions=0x1000)))
    proc.ioctl(fd, uapi.DRM_IOCTL_I915_GEM_MMAP_GTT, arg)
    got = uapi.drm_i915_gem_mmap_offset.from_buffer_copy(proc.read(arg, 32))
    assert got.offset == igt.gem_mmap_offset(proc, fd, h, uapi.I915_MMAP_OFFSET_GTT)
    assert got.flags == uapi.I915_MMAP_OFFSET_WB        # the kernel never wrote it back


@pytest.mark.parametrize("layout, expected", [
    ("unmapped", errno.EFAULT),
    ("zero header", errno.EINVAL),
    ("named extension", errno.EINVAL),
    ("flags set, rsvd on an unmapped page", errno.EINVAL),
    ("rsvd on an unmapped page", errno.EFAULT),
])
def test_mmap_offset_refuses_every_extension(proc: softgem.Process, layout: str,
                                             expected: int) -> None:
    fd = igt.drm_open_driver(proc)
    h = igt.gem_create(proc, fd, PAGE_SIZE)
    two = anon(proc, 2 * PAGE_SIZE)
    proc.munmap(two + PAGE_SIZE, PAGE_SIZE)
    ext = {"unmapped": two + PAGE_SIZE, "zero header": two, "named extension": two,
           "flags set, rsvd on an unmapped page": two + PAGE_SIZE - 16,
           "rsvd on an unmapped page": two + PAGE_SIZE - 16}[layout]
    if layout == "named extension":
        proc.write(two + 8, (1).to_bytes(4, "little"))
    if layout.startswith("flags set"):
        proc.write(ext + 12, (1).to_bytes(4, "little"))
    arg = uapi.drm_i915_gem_mmap_offset(handle=h, flags=uapi.I915_MMAP_OFFSET_WB,
                                        extensions=ext)
    assert failure(proc.ioctl, fd, uapi.DRM_IOCTL_I915_GEM_MMAP_OFFSET, arg) == expected


def test_a_wb_mapping_shares_data_with_pread_and_a_gtt_mapping(proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    h = igt.gem_create(proc, fd, 2 * PAGE_SIZE)
    wb = igt.gem_mmap__wb(proc, fd, h, 2 * PAGE_SIZE)
    gtt = igt.gem_mmap__gtt(proc, fd, h, 2 * PAGE_SIZE)
    proc.write(wb + PAGE_SIZE + 5, b"shared")
    assert igt.gem_read(proc, fd, h, PAGE_SIZE + 5, 6) == b"shared"
    assert proc.read(gtt + PAGE_SIZE + 5, 6) == b"shared"
    igt.gem_close(proc, fd, h)
    proc.close(fd)
    assert proc.read(wb + PAGE_SIZE + 5, 6) == b"shared"   # the mapping holds the object
    proc.munmap(wb, 2 * PAGE_SIZE)
    proc.munmap(gtt, 2 * PAGE_SIZE)


def test_legacy_gem_mmap_returns_an_address_in_the_caller(proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    h = igt.gem_create(proc, fd, PAGE_SIZE)
    igt.gem_write(proc, fd, h, 0, b"legacy")
    arg = uapi.drm_i915_gem_mmap(handle=h, size=PAGE_SIZE)
    proc.ioctl(fd, uapi.DRM_IOCTL_I915_GEM_MMAP, arg)
    assert proc.read(arg.addr_ptr, 6) == b"legacy"


def test_userptr_validity_follows_the_address_space(proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    ptr = anon(proc, 4 * PAGE_SIZE)
    assert igt.__gem_userptr(proc, fd, ptr + 1, PAGE_SIZE) == (-errno.EINVAL, 0)
    err, h = igt.__gem_userptr(proc, fd, ptr, 4 * PAGE_SIZE)
    assert err == 0 and h
    assert igt.__gem_set_domain(proc, fd, h, uapi.I915_GEM_DOMAIN_CPU, 0) == 0
    proc.munmap(ptr + PAGE_SIZE, PAGE_SIZE)
    assert igt.__gem_set_domain(proc, fd, h, uapi.I915_GEM_DOMAIN_CPU, 0) == -errno.EFAULT


def test_a_forked_child_shares_handles_but_not_the_userptr_address_space(
        proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    h = igt.gem_create(proc, fd, PAGE_SIZE)
    igt.gem_write(proc, fd, h, 0, b"parent")
    ptr = anon(proc, PAGE_SIZE)
    u = igt.gem_userptr(proc, fd, ptr, PAGE_SIZE)
    child = proc.fork()
    assert igt.gem_read(child, fd, h, 0, 6) == b"parent"
    assert igt.__gem_set_domain(child, fd, u, uapi.I915_GEM_DOMAIN_CPU, 0) == -errno.EFAULT
    assert igt.__gem_set_domain(proc, fd, u, uapi.I915_GEM_DOMAIN_CPU, 0) == 0
    child.exit()
    assert igt.gem_read(proc, fd, h, 0, 6) == b"parent"   # the shared file lives on


def test_prime_moves_an_object_between_processes(machine: softgem.Machine,
                                                 proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    h = igt.gem_create(proc, fd, PAGE_SIZE)
    igt.gem_write(proc, fd, h, 0, b"dmabuf")
    prime = uapi.drm_prime_handle(handle=h, flags=uapi.DRM_CLOEXEC)
    proc.ioctl(fd, uapi.DRM_IOCTL_PRIME_HANDLE_TO_FD, prime)
    assert prime.fd in proc.files.fds()
    child = proc.fork()
    cfd = igt.drm_open_driver_render(child)
    imp = uapi.drm_prime_handle(fd=prime.fd)
    child.ioctl(cfd, uapi.DRM_IOCTL_PRIME_FD_TO_HANDLE, imp)
    assert igt.gem_read(child, cfd, imp.handle, 0, 6) == b"dmabuf"
    bad = uapi.drm_prime_handle(fd=cfd)                   # a DRM fd is not a dma-buf
    assert failure(child.ioctl, cfd, uapi.DRM_IOCTL_PRIME_FD_TO_HANDLE, bad) == errno.EINVAL
    assert failure(child.ioctl, cfd, uapi.DRM_IOCTL_PRIME_FD_TO_HANDLE,
                   uapi.drm_prime_handle(fd=999)) == errno.EBADF
    child.exit()


def test_flink_names_are_global_and_open_gives_the_size(machine: softgem.Machine,
                                                        proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    h = igt.gem_create(proc, fd, 5000)
    igt.gem_write(proc, fd, h, 0, b"flinked")
    fl = uapi.drm_gem_flink(handle=h)
    proc.ioctl(fd, uapi.DRM_IOCTL_GEM_FLINK, fl)
    other = machine.spawn()
    ofd = igt.drm_open_driver(other)
    op = uapi.drm_gem_open(name=fl.name)
    other.ioctl(ofd, uapi.DRM_IOCTL_GEM_OPEN, op)
    assert op.size == 2 * PAGE_SIZE
    assert igt.gem_read(other, ofd, op.handle, 0, 7) == b"flinked"
    assert failure(other.ioctl, ofd, uapi.DRM_IOCTL_GEM_OPEN,
                   uapi.drm_gem_open(name=fl.name + 1)) == errno.ENOENT
    other.exit()


def test_a_dup_shares_the_file_until_the_last_close(proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    h = igt.gem_create(proc, fd, PAGE_SIZE)
    fd2 = proc.dup(fd)
    proc.close(fd)
    assert igt.gem_read(proc, fd2, h, 0, 1) == b"\x00"
    proc.close(fd2)


def test_exit_with_live_handles_userptrs_and_mappings_leaks_nothing(
        machine: softgem.Machine) -> None:
    p = machine.spawn()
    fd = igt.drm_open_driver(p)
    h = igt.gem_create(p, fd, 4 * PAGE_SIZE)
    igt.gem_mmap__wc(p, fd, h, 4 * PAGE_SIZE)
    ptr = anon(p, 4 * PAGE_SIZE)
    u = igt.gem_userptr(p, fd, ptr, 4 * PAGE_SIZE)
    igt.gem_set_domain(p, fd, u, uapi.I915_GEM_DOMAIN_CPU, 0)
    p.mmap(0, PAGE_SIZE, RW, MAP_SHARED, fd,
           igt.gem_mmap_offset(p, fd, h, uapi.I915_MMAP_OFFSET_WB))
    p.exit()
    assert machine.counters().leaks() == {}
