"""A userptr whose page vector would not fit kvmalloc (2^28 pages, 1 TiB, and more) is
created, but validating it fails ENOMEM before a page is pinned, as the kernel's
``i915_gem_object_userptr_submit_init`` allocates the vector first (issue 12)."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest

import softgem
from softgem import igt, uapi
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from softgem.units import PAGE_SIZE

RW = PROT_READ | PROT_WRITE
TIB = 1 << 40
BASE = 1 << 42                      # 1 TiB of user space, mapped only at its first page


@pytest.fixture
def proc() -> Iterator[softgem.Process]:
    m = softgem.Machine(memory=32 << 20)
    p = m.spawn("up")
    yield p
    p.exit()
    m.shutdown()
    assert m.counters().leaks() == {}


def _mapped_start(p: softgem.Process) -> int:
    from softgem.posix import MAP_FIXED
    return int(p.mmap(BASE, PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED))


def test_a_tib_userptr_is_created_and_set_domain_is_enomem_before_pinning(
        proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    ptr = _mapped_start(proc)
    proc.write(ptr, b"x")
    h = igt.gem_userptr(proc, fd, ptr, TIB)
    before = proc.machine.counters()
    assert igt.__gem_set_domain(proc, fd, h, uapi.I915_GEM_DOMAIN_CPU, 0) == -errno.ENOMEM
    assert proc.machine.counters() == before             # nothing pinned, nothing held
    igt.gem_close(proc, fd, h)


def test_one_page_less_is_pinned_and_fails_at_the_first_unmapped_page(
        proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    ptr = _mapped_start(proc)
    h = igt.gem_userptr(proc, fd, ptr, TIB - PAGE_SIZE)
    assert igt.__gem_set_domain(proc, fd, h, uapi.I915_GEM_DOMAIN_CPU, 0) == -errno.EFAULT
    igt.gem_close(proc, fd, h)


def test_execbuf_with_a_tib_userptr_is_enomem(proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    ptr = _mapped_start(proc)
    h = igt.gem_userptr(proc, fd, ptr, TIB)
    batch = igt.gem_create(proc, fd, PAGE_SIZE)
    igt.gem_write(proc, fd, batch, 0, (0x0A << 23).to_bytes(4, "little") + bytes(4))
    objs = (uapi.drm_i915_gem_exec_object2 * 2)(
        uapi.drm_i915_gem_exec_object2(handle=h),
        uapi.drm_i915_gem_exec_object2(handle=batch))
    arr = proc.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    proc.write(arr, bytes(objs))
    eb = uapi.drm_i915_gem_execbuffer2(buffers_ptr=arr, buffer_count=2)
    with pytest.raises(OSError) as err:
        proc.ioctl(fd, uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2, eb)
    assert err.value.errno == errno.ENOMEM
