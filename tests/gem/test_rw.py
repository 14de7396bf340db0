"""PREAD / PWRITE: the errno ladders, the data path across pages, the shmem fast path."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest

from softgem.errors import EFAULT, EINVAL, ENOENT, KernelError
from softgem.gem.create import gem_create
from softgem.gem.device import GemDevice
from softgem.gem.file import DrmFile
from softgem.gem.object import MADV_DONTNEED, MADV_PURGED
from softgem.gem.rw import pread, pwrite
from softgem.gem.shmem import ShmemState
from softgem.gem.userptr import userptr_create
from softgem.mm import Mm, PhysMem
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from softgem.units import PAGE_SIZE, TASK_SIZE

RwOp = Callable[..., None]
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


@pytest.fixture
def phys() -> PhysMem:
    return PhysMem(1024)


@pytest.fixture
def dev(phys: PhysMem) -> Iterator[GemDevice]:
    dev = GemDevice(phys)
    yield dev
    assert dev.counters()["objects"] == 0


@pytest.fixture
def mm(phys: PhysMem) -> Iterator[Mm]:
    mm = Mm(phys)
    yield mm
    mm.exit_mmap()


@pytest.fixture
def file(dev: GemDevice, phys: PhysMem, mm: Mm) -> Iterator[DrmFile]:
    f = dev.open(0)
    yield f
    f.release()
    mm.exit_mmap()
    assert phys.nr_used() == 0 and phys.nr_pinned() == 0


@pytest.fixture
def buf(mm: Mm) -> int:
    """Sixteen pages of the caller's memory."""
    return mm.mmap(0, 16 * PAGE_SIZE, RW, ANON)


def _obj_pages_in_store(file: DrmFile, handle: int) -> int:
    obj = file.lookup(handle)
    try:
        st = obj.private
        assert isinstance(st, ShmemState) and st.cache is not None
        return len(st.cache)
    finally:
        obj.put()


# -- the ladders -------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", [pread, pwrite])
@pytest.mark.parametrize(("handle", "offset", "size", "ptr", "err"), [
    (99, 0, 0, 0, None),                          # size 0: nothing else is looked at
    (99, 0, 16, TASK_SIZE - 8, EFAULT),           # access_ok before the lookup
    (99, 0, 16, (1 << 64) - 8, EFAULT),           # wraps
    (99, 0, 16, "buf", ENOENT),
    (1, 2 * PAGE_SIZE, 1, "buf", EINVAL),          # offset at the end
    (1, 0, 2 * PAGE_SIZE + 1, "buf", EINVAL),
    (1, PAGE_SIZE, PAGE_SIZE + 1, "buf", EINVAL),
    (1, (1 << 64) - 1, 2, "buf", EINVAL),          # offset + size wraps
    (1, 0, PAGE_SIZE, "unmapped", EFAULT),          # the copy itself faults
])
def test_rw_argument_ladder(dev: GemDevice, file: DrmFile, mm: Mm, buf: int, op: RwOp,
                            handle: int, offset: int, size: int, ptr: int | str,
                            err: type[KernelError] | None) -> None:
    gem_create(dev, file, 2 * PAGE_SIZE)
    addr = {"buf": buf, "unmapped": buf + 16 * PAGE_SIZE}.get(str(ptr), ptr)
    if err is None:
        op(dev, file, mm, handle, offset, size, addr)
    else:
        with pytest.raises(err):
            op(dev, file, mm, handle, offset, size, addr)


@pytest.mark.parametrize("op", [pread, pwrite])
def test_rw_on_a_userptr_is_einval(dev: GemDevice, file: DrmFile, mm: Mm, buf: int,
                                   op: RwOp) -> None:
    handle = userptr_create(dev, file, mm, buf, 4 * PAGE_SIZE, 0)
    with pytest.raises(EINVAL):
        op(dev, file, mm, handle, 0, 16, buf + 8 * PAGE_SIZE)


def test_pwrite_into_a_read_only_object_is_einval(dev: GemDevice, file: DrmFile, mm: Mm,
                                                  buf: int) -> None:
    handle, _ = gem_create(dev, file, PAGE_SIZE)
    obj = file.lookup(handle)
    obj.readonly = True
    obj.put()
    with pytest.raises(EINVAL):
        pwrite(dev, file, mm, handle, 0, 16, buf)
    pread(dev, file, mm, handle, 0, 16, buf)


# -- data ------------------------------------------------------------------------------------------
def test_pwrite_then_pread_round_trips_across_pages_at_odd_offsets(
        dev: GemDevice, file: DrmFile, mm: Mm, buf: int) -> None:
    rng = random.Random(7)
    size = 6 * PAGE_SIZE
    handle, _ = gem_create(dev, file, size)
    model = bytearray(size)
    for _ in range(20):
        off = rng.randrange(size)
        n = rng.randrange(1, min(size - off, 3 * PAGE_SIZE) + 1)
        data = rng.randbytes(n)
        mm.cpu_write(buf, data)
        pwrite(dev, file, mm, handle, off, n, buf)
        model[off:off + n] = data
    pread(dev, file, mm, handle, 0, size, buf + 8 * PAGE_SIZE)
    assert mm.cpu_read(buf + 8 * PAGE_SIZE, size) == bytes(model)


def test_pread_of_a_new_object_reads_zeroes(dev: GemDevice, file: DrmFile, mm: Mm,
                                            buf: int) -> None:
    mm.cpu_write(buf, b"\xff" * 100)
    handle, _ = gem_create(dev, file, PAGE_SIZE)
    pread(dev, file, mm, handle, 50, 100, buf)
    assert mm.cpu_read(buf, 100) == bytes(100)


def test_pwrite_without_pages_only_instantiates_the_pages_written(
        dev: GemDevice, file: DrmFile, mm: Mm, buf: int, phys: PhysMem) -> None:
    handle, _ = gem_create(dev, file, 1 << 30)   # 1 GiB: more than this machine's RAM
    mm.cpu_write(buf, b"abc")
    used = phys.nr_used()
    pwrite(dev, file, mm, handle, 5 * PAGE_SIZE - 1, 3, buf)   # straddles pages 4 and 5
    assert _obj_pages_in_store(file, handle) == 2
    assert phys.nr_used() == used + 2


def test_pwrite_fast_path_data_is_seen_once_the_object_has_pages(
        dev: GemDevice, file: DrmFile, mm: Mm, buf: int) -> None:
    handle, _ = gem_create(dev, file, 4 * PAGE_SIZE)
    mm.cpu_write(buf, b"early")
    pwrite(dev, file, mm, handle, 3 * PAGE_SIZE + 7, 5, buf)
    pread(dev, file, mm, handle, 3 * PAGE_SIZE, 16, buf + PAGE_SIZE)   # gets all pages
    assert mm.cpu_read(buf + PAGE_SIZE, 16) == bytes(7) + b"early" + bytes(4)
    assert _obj_pages_in_store(file, handle) == 4


def test_generic_pwrite_marks_the_object_dirty_and_cpu_write_domain(
        dev: GemDevice, file: DrmFile, mm: Mm, buf: int) -> None:
    handle, _ = gem_create(dev, file, PAGE_SIZE)
    pread(dev, file, mm, handle, 0, 1, buf)         # the object has pages now
    obj = file.lookup(handle)
    obj.read_domains, obj.write_domain = 0x40, 0
    pwrite(dev, file, mm, handle, 0, 1, buf)
    assert obj.dirty and (obj.read_domains, obj.write_domain) == (1, 1)
    assert obj.pages_pin_count == 0
    obj.put()


def test_a_fault_in_the_user_buffer_is_efault_and_unpins(dev: GemDevice, file: DrmFile,
                                                         mm: Mm, buf: int) -> None:
    handle, _ = gem_create(dev, file, 4 * PAGE_SIZE)
    pread(dev, file, mm, handle, 0, 1, buf)
    mm.munmap(buf + 2 * PAGE_SIZE, PAGE_SIZE)
    for op in (pread, pwrite):
        with pytest.raises(EFAULT):
            op(dev, file, mm, handle, 0, 4 * PAGE_SIZE, buf)
    obj = file.lookup(handle)
    assert obj.pages_pin_count == 0
    obj.put()


@pytest.mark.parametrize("madv", [MADV_DONTNEED, MADV_PURGED])
@pytest.mark.parametrize("op", [pread, pwrite])
def test_rw_on_a_purgeable_object_without_pages_is_efault(
        dev: GemDevice, file: DrmFile, mm: Mm, buf: int, op: RwOp, madv: int) -> None:
    handle, _ = gem_create(dev, file, PAGE_SIZE)
    obj = file.lookup(handle)
    obj.madv = madv
    obj.put()
    with pytest.raises(EFAULT):
        op(dev, file, mm, handle, 0, 16, buf)


def test_rw_on_a_dontneed_object_that_still_has_pages_works(
        dev: GemDevice, file: DrmFile, mm: Mm, buf: int) -> None:
    handle, _ = gem_create(dev, file, PAGE_SIZE)
    mm.cpu_write(buf, b"still")
    pwrite(dev, file, mm, handle, 0, 5, buf)
    pread(dev, file, mm, handle, 0, 1, buf)         # pages attached now
    obj = file.lookup(handle)
    obj.madv = MADV_DONTNEED
    obj.put()
    pread(dev, file, mm, handle, 0, 5, buf + 100)
    assert mm.cpu_read(buf + 100, 5) == b"still"
