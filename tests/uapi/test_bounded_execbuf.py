"""EXECBUFFER2 counts cost what the kernel lets them cost (issue 12, "bounded work").

``buffer_count`` past what ``kvmalloc_array(count + 2, 136)`` gives is ENOMEM before a byte
is copied; below that the array is copied in 64 KiB chunks, so a huge count over a small
buffer is EFAULT after reading only the buffer.  ``relocation_count`` is checked page by
page (EFAULT at the first bad page) and is ENOMEM past INT_MAX bytes.  Memory is measured
with tracemalloc (every Python and numpy allocation of the call, peak over the call).
"""

from __future__ import annotations

import ctypes
import errno
import tracemalloc
from collections.abc import Callable, Iterator

import pytest

import softgem
from softgem import igt, uapi
from softgem.gpu import execbuf_copy as C
from softgem.gpu import reloc as R
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_NONE, PROT_READ, PROT_WRITE
from softgem.units import PAGE_SIZE

RW = PROT_READ | PROT_WRITE
#: The largest buffer_count the kernel allocates for: (count + 2) * 136 <= INT_MAX.
KERNEL_MAX_COUNT = C.KVMALLOC_MAX // C.EB_ELEMENT_SIZE - 2
#: Peak Python memory one refused call may take (the chunk it read, and bookkeeping).
CALL_BOUND = 1 << 20
MI_BATCH_BUFFER_END = 0x0A << 23


@pytest.fixture
def proc() -> Iterator[softgem.Process]:
    m = softgem.Machine(memory=32 << 20)
    p = m.spawn("eb")
    yield p
    p.exit()
    m.shutdown()
    assert m.counters().leaks() == {}


def peak(call: Callable[[], object]) -> int:
    """Peak bytes allocated while ``call`` runs (its exception, if any, is swallowed)."""
    tracemalloc.start()
    try:
        call()
    except OSError:
        pass
    finally:
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return top


def one_batch(p: softgem.Process, fd: int) -> tuple[int, uapi.drm_i915_gem_exec_object2]:
    """A page-sized buffer holding one valid exec object (a batch) at its start."""
    h = igt.gem_create(p, fd, PAGE_SIZE)
    igt.gem_write(p, fd, h, 0, MI_BATCH_BUFFER_END.to_bytes(4, "little") + bytes(4))
    buf = p.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    entry = uapi.drm_i915_gem_exec_object2(handle=h)
    p.write(buf, bytes(entry))
    return buf, entry


def execbuf(p: softgem.Process, fd: int, buf: int, count: int) -> int:
    eb = uapi.drm_i915_gem_execbuffer2(buffers_ptr=buf, buffer_count=count)
    try:
        p.ioctl(fd, uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2, eb)
    except OSError as err:
        return err.errno or 0
    return 0


def test_a_count_past_kvmalloc_is_enomem_before_any_copy(proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    buf, _ = one_batch(proc, fd)
    assert execbuf(proc, fd, buf, 0x4000000) == errno.ENOMEM
    assert peak(lambda: execbuf(proc, fd, buf, 0x4000000)) < CALL_BOUND
    assert execbuf(proc, fd, buf, KERNEL_MAX_COUNT + 1) == errno.ENOMEM
    assert execbuf(proc, fd, buf, 1) == 0          # the same buffer, an honest count


@pytest.mark.parametrize("count", [0, 1 << 31, 0xFFFFFFFF])
def test_counts_check_buffer_count_refuses_are_einval(proc: softgem.Process, count: int) -> None:
    fd = igt.drm_open_driver(proc)
    buf, _ = one_batch(proc, fd)
    assert execbuf(proc, fd, buf, count) == errno.EINVAL


def test_the_largest_allocatable_count_over_a_small_buffer_reads_only_the_buffer(
        proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    buf, _ = one_batch(proc, fd)
    assert execbuf(proc, fd, buf, KERNEL_MAX_COUNT) == errno.EFAULT
    assert peak(lambda: execbuf(proc, fd, buf, KERNEL_MAX_COUNT)) < CALL_BOUND


def test_a_readable_array_is_decoded_only_as_far_as_execbuf_gets(
        proc: softgem.Process) -> None:
    """64 Ki entries of zeros (handle 0): ENOENT at the first, having held the raw bytes
    (56 a entry, under the kernel's 136) and one decoded record."""
    fd = igt.drm_open_driver(proc)
    count = 1 << 16
    buf = proc.mmap(0, count * 56, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS)
    assert execbuf(proc, fd, buf, count) == errno.ENOENT
    assert peak(lambda: execbuf(proc, fd, buf, count)) < count * 56 + CALL_BOUND


def _reloc_execbuf(p: softgem.Process, fd: int, relocs_ptr: int, nreloc: int) -> int:
    h = igt.gem_create(p, fd, PAGE_SIZE)
    igt.gem_write(p, fd, h, 0, MI_BATCH_BUFFER_END.to_bytes(4, "little") + bytes(4))
    obj = uapi.drm_i915_gem_exec_object2(handle=h, relocation_count=nreloc,
                                         relocs_ptr=relocs_ptr)
    eb = uapi.drm_i915_gem_execbuffer2(buffers_ptr=ctypes.addressof(obj), buffer_count=1)
    arr = p.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    p.write(arr, bytes(obj))
    eb.buffers_ptr = arr
    try:
        p.ioctl(fd, uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2, eb)
    except OSError as err:
        return err.errno or 0
    finally:
        igt.gem_close(p, fd, h)
    return 0


def test_a_huge_relocation_count_over_one_page_is_efault_at_the_next_page(
        proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    relocs = proc.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    assert _reloc_execbuf(proc, fd, relocs, 0xFFFFFFFF) == errno.EFAULT
    assert peak(lambda: _reloc_execbuf(proc, fd, relocs, 0xFFFFFFFF)) < CALL_BOUND


def test_a_hole_in_a_relocation_array_is_efault(proc: softgem.Process) -> None:
    fd = igt.drm_open_driver(proc)
    relocs = proc.mmap(0, 3 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    proc.mprotect(relocs + PAGE_SIZE, PAGE_SIZE, PROT_NONE)
    assert _reloc_execbuf(proc, fd, relocs, 3 * PAGE_SIZE // 32) == errno.EFAULT


class _ZeroMemory:
    """A readable address space of zeros that counts its reads (no memory behind it)."""

    def __init__(self) -> None:
        self.reads = 0
        self.largest = 0

    def access_ok(self, addr: int, size: int) -> bool:
        return addr + size <= 1 << 47

    def copy_from_user(self, addr: int, n: int) -> bytes:
        self.reads += 1
        self.largest = max(self.largest, n)
        return bytes(n)

    def copy_to_user(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        raise AssertionError("nothing is written")


def test_relocations_past_int_max_bytes_are_enomem_after_the_page_walk() -> None:
    mm = _ZeroMemory()
    count = C.KVMALLOC_MAX // R.RELOC_ENTRY_SIZE + 1
    with pytest.raises(softgem.errors.ENOMEM):
        R.read_relocs(mm, 0x10000, count)
    assert mm.reads == count * R.RELOC_ENTRY_SIZE // PAGE_SIZE + 1   # one a page, and the end
    assert mm.largest == 1


def test_chunked_copies_never_read_more_than_a_chunk_at_once() -> None:
    mm = _ZeroMemory()
    got = R.read_relocs(mm, 0x10000 + 8, 10_000)
    assert len(got) == 10_000 and got[9_999].target_handle == 0
    assert mm.largest <= C.COPY_CHUNK


def test_a_huge_fence_array_is_enomem_where_krealloc_fails() -> None:
    from softgem.gpu import execbuf_args as A
    args = A.ExecArgs(flags=A.I915_EXEC_FENCE_ARRAY, num_cliprects=C.KMALLOC_MAX_SIZE // 32 + 1,
                      cliprects_ptr=0x10000)
    with pytest.raises(softgem.errors.ENOMEM):
        A.parse_fence_array(_ZeroMemory(), args)


def test_a_large_pwrite_holds_a_chunk_of_user_memory_at_a_time(proc: softgem.Process) -> None:
    """8 MiB from user memory into an object: the copy never holds the whole run."""
    fd = igt.drm_open_driver(proc)
    size = 8 << 20
    h = igt.gem_create(proc, fd, size)
    src = proc.mmap(0, size, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    proc.write(src + size - 5, b"tail!")
    igt.gem_set_domain(proc, fd, h, uapi.I915_GEM_DOMAIN_CPU, uapi.I915_GEM_DOMAIN_CPU)
    pw = uapi.drm_i915_gem_pwrite(handle=h, offset=0, size=size, data_ptr=src)
    assert peak(lambda: proc.ioctl(fd, uapi.DRM_IOCTL_I915_GEM_PWRITE, pw)) < 4 << 20
    assert igt.gem_read(proc, fd, h, size - 5, 5) == b"tail!"
