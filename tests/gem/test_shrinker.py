"""MADVISE and the shrinker: purging, putting pages, zapping CPU mmaps, leaving pins alone."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from softgem.errors import EFAULT, EINVAL, ENOENT, KernelError, Sigbus
from softgem.gem.create import gem_create
from softgem.gem.device import GemDevice
from softgem.gem.domain import I915_GEM_DOMAIN_CPU, set_domain
from softgem.gem.file import DrmFile
from softgem.gem.mman import I915_MMAP_TYPE_WB, DrmMappable, mmap_offset
from softgem.gem.object import MADV_DONTNEED, MADV_PURGED, MADV_WILLNEED
from softgem.gem.rw import pread, pwrite
from softgem.gem.shrinker import madvise, nr_tracked, shrink, shrink_all, track
from softgem.gem.userptr import userptr_create
from softgem.mm import Mm, PhysMem
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE
from softgem.units import PAGE_SIZE

RW = PROT_READ | PROT_WRITE


@pytest.fixture
def phys() -> PhysMem:
    return PhysMem(1024)


@pytest.fixture
def dev(phys: PhysMem) -> GemDevice:
    return GemDevice(phys)


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
    assert dev.counters()["objects"] == 0 and nr_tracked(dev) == 0
    assert phys.nr_used() == 0


@pytest.fixture
def buf(mm: Mm) -> int:
    return mm.mmap(0, 16 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)


def _with_pages(dev: GemDevice, file: DrmFile, mm: Mm, buf: int, npages: int,
                fill: bytes = b"") -> int:
    """A new object whose pages are attached (and hold ``fill`` at offset 0)."""
    handle, _ = gem_create(dev, file, npages * PAGE_SIZE)
    pread(dev, file, mm, handle, 0, 1, buf)
    if fill:
        mm.cpu_write(buf, fill)
        pwrite(dev, file, mm, handle, 0, len(fill), buf)
    return handle


def _has_pages(file: DrmFile, handle: int) -> bool:
    obj = file.lookup(handle)
    try:
        return obj.has_pages()
    finally:
        obj.put()


def _madv(file: DrmFile, handle: int) -> int:
    obj = file.lookup(handle)
    try:
        return obj.madv
    finally:
        obj.put()


# -- MADVISE -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("madv", "handle", "err"), [
    (2, 99, EINVAL),                 # the advice is checked before the handle
    (0xFFFFFFFF, 1, EINVAL),
    (MADV_DONTNEED, 99, ENOENT),
    (MADV_WILLNEED, 0, ENOENT),
])
def test_madvise_ladder(dev: GemDevice, file: DrmFile, madv: int, handle: int,
                        err: type[KernelError]) -> None:
    gem_create(dev, file, PAGE_SIZE)
    with pytest.raises(err):
        madvise(dev, file, handle, madv)


def test_dontneed_without_pages_purges_at_once_and_frees_the_store(
        dev: GemDevice, file: DrmFile, mm: Mm, buf: int, phys: PhysMem) -> None:
    handle, _ = gem_create(dev, file, 4 * PAGE_SIZE)
    mm.cpu_write(buf, b"x" * 10)
    pwrite(dev, file, mm, handle, 0, 10, buf)      # fast path: one frame in the store
    used = phys.nr_used()
    assert madvise(dev, file, handle, MADV_DONTNEED) is False
    assert _madv(file, handle) == MADV_PURGED and phys.nr_used() == used - 1


def test_a_purged_object_stays_purged(dev: GemDevice, file: DrmFile) -> None:
    handle, _ = gem_create(dev, file, PAGE_SIZE)
    madvise(dev, file, handle, MADV_DONTNEED)
    assert madvise(dev, file, handle, MADV_WILLNEED) is False
    assert _madv(file, handle) == MADV_PURGED


def test_dontneed_with_pages_keeps_them_until_the_shrinker_runs(
        dev: GemDevice, file: DrmFile, mm: Mm, buf: int) -> None:
    handle = _with_pages(dev, file, mm, buf, 2)
    assert madvise(dev, file, handle, MADV_DONTNEED) is True
    assert _has_pages(file, handle)
    assert madvise(dev, file, handle, MADV_WILLNEED) is True
    assert _madv(file, handle) == MADV_WILLNEED


# -- the shrinker ------------------------------------------------------------------------------------
def test_shrink_purges_dontneed_objects_before_touching_wanted_ones(
        dev: GemDevice, file: DrmFile, mm: Mm, buf: int) -> None:
    wanted = _with_pages(dev, file, mm, buf, 4)
    junk = _with_pages(dev, file, mm, buf, 4)
    madvise(dev, file, junk, MADV_DONTNEED)
    assert shrink(dev, 4) == 4
    assert _madv(file, junk) == MADV_PURGED and not _has_pages(file, junk)
    assert _has_pages(file, wanted)
    assert madvise(dev, file, junk, MADV_WILLNEED) is False


def test_purge_only_leaves_wanted_objects_alone(dev: GemDevice, file: DrmFile, mm: Mm,
                                                buf: int) -> None:
    wanted = _with_pages(dev, file, mm, buf, 4)
    assert shrink(dev, 100, purge_only=True) == 0
    assert _has_pages(file, wanted)


def test_shrinking_a_wanted_object_keeps_its_contents(dev: GemDevice, file: DrmFile, mm: Mm,
                                                      buf: int, phys: PhysMem) -> None:
    handle = _with_pages(dev, file, mm, buf, 3, fill=b"survives")
    used = phys.nr_used()
    assert shrink_all(dev) == 3
    assert not _has_pages(file, handle) and phys.nr_used() == used   # the store keeps them
    pread(dev, file, mm, handle, 0, 8, buf + PAGE_SIZE)
    assert mm.cpu_read(buf + PAGE_SIZE, 8) == b"survives"


def test_shrink_leaves_objects_with_pinned_pages_alone(dev: GemDevice, file: DrmFile, mm: Mm,
                                                       buf: int) -> None:
    handle = _with_pages(dev, file, mm, buf, 2)
    madvise(dev, file, handle, MADV_DONTNEED)
    obj = file.lookup(handle)
    with obj.lock:
        obj.pin_pages_locked()
    assert shrink_all(dev) == 0
    assert obj.has_pages() and obj.madv == MADV_DONTNEED
    with obj.lock:
        obj.unpin_pages_locked()
    obj.put()
    assert shrink_all(dev) == 2


def test_shrink_skips_an_object_whose_lock_is_held(dev: GemDevice, file: DrmFile, mm: Mm,
                                                   buf: int) -> None:
    handle = _with_pages(dev, file, mm, buf, 2)
    obj = file.lookup(handle)
    with obj.lock:
        assert shrink_all(dev) == 0
    assert shrink_all(dev) == 2
    obj.put()


def test_shrink_stops_once_it_reached_the_target(dev: GemDevice, file: DrmFile, mm: Mm,
                                                 buf: int) -> None:
    first = _with_pages(dev, file, mm, buf, 2)
    second = _with_pages(dev, file, mm, buf, 2)
    assert shrink(dev, 1) == 2       # whole objects, oldest first
    assert not _has_pages(file, first) and _has_pages(file, second)


def test_putting_pages_zaps_cpu_mmaps_and_the_next_access_refaults(
        dev: GemDevice, file: DrmFile, mm: Mm, buf: int) -> None:
    handle = _with_pages(dev, file, mm, buf, 2, fill=b"mapped")
    offset = mmap_offset(dev, file, handle, I915_MMAP_TYPE_WB)
    addr = mm.mmap(0, 2 * PAGE_SIZE, RW, MAP_SHARED, DrmMappable(dev, file),
                   offset // PAGE_SIZE)
    assert mm.cpu_read(addr, 6) == b"mapped"
    ptes = mm.nr_ptes()
    shrink_all(dev)
    assert mm.nr_ptes() == ptes - 2
    assert mm.cpu_read(addr, 6) == b"mapped"          # refault: the store kept the data
    madvise(dev, file, handle, MADV_DONTNEED)
    shrink_all(dev)
    with pytest.raises(Sigbus):
        mm.cpu_read(addr, 6)                          # purged: nothing to map any more
    mm.munmap(addr, 2 * PAGE_SIZE)


def test_shrinking_a_userptr_unpins_the_user_pages(dev: GemDevice, file: DrmFile, mm: Mm,
                                                  buf: int, phys: PhysMem) -> None:
    handle = userptr_create(dev, file, mm, buf, 4 * PAGE_SIZE, 0)
    set_domain(dev, file, mm, handle, I915_GEM_DOMAIN_CPU, 0)   # pins the user pages
    assert phys.nr_pinned() == 4
    obj = file.lookup(handle)
    track(obj)      # stands in for object.py's set-pages hook (asked of the lead)
    assert shrink_all(dev) == 4
    assert not obj.has_pages() and phys.nr_pinned() == 0
    assert obj.madv == MADV_WILLNEED
    obj.put()


def test_shrinking_while_another_thread_reads_and_writes_loses_no_data(
        dev: GemDevice, file: DrmFile, mm: Mm, buf: int) -> None:
    handle = _with_pages(dev, file, mm, buf, 4)
    stop = threading.Event()
    errors: list[BaseException] = []

    def shrinker() -> None:
        while not stop.is_set():
            shrink_all(dev)

    t = threading.Thread(target=shrinker)
    t.start()
    try:
        for i in range(40):
            data = bytes([i]) * (3 * PAGE_SIZE)
            mm.cpu_write(buf, data)
            pwrite(dev, file, mm, handle, PAGE_SIZE // 2, len(data), buf)
            pread(dev, file, mm, handle, PAGE_SIZE // 2, len(data), buf + 4 * PAGE_SIZE)
            if mm.cpu_read(buf + 4 * PAGE_SIZE, len(data)) != data:
                errors.append(AssertionError(f"round {i} lost data"))
    finally:
        stop.set()
        t.join()
    assert not errors


# -- model check -------------------------------------------------------------------------------------
class PurgeableObjectMachine(RuleBasedStateMachine):
    """PWRITE/PREAD/MADVISE/shrink on one object against a byte-level model.

    Model states: wanted (with or without pages), DONTNEED (always with pages: without them it
    is purged at once), purged (every access is EFAULT, retained is False for ever).
    """

    SIZE = 3 * PAGE_SIZE

    def __init__(self) -> None:
        super().__init__()
        self.phys = PhysMem(128)
        self.dev = GemDevice(self.phys)
        self.mm = Mm(self.phys)
        self.file = self.dev.open(0)
        self.buf = self.mm.mmap(0, 4 * PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
        self.handle, _ = gem_create(self.dev, self.file, self.SIZE)
        self.model = bytearray(self.SIZE)
        self.madv = MADV_WILLNEED
        self.has_pages = False

    @rule(off=st.integers(0, SIZE - 1), data=st.binary(min_size=1, max_size=PAGE_SIZE + 9))
    def write(self, off: int, data: bytes) -> None:
        data = data[:self.SIZE - off]
        self.mm.cpu_write(self.buf, data)
        if self.madv == MADV_PURGED:
            with pytest.raises(EFAULT):
                pwrite(self.dev, self.file, self.mm, self.handle, off, len(data), self.buf)
            return
        pwrite(self.dev, self.file, self.mm, self.handle, off, len(data), self.buf)
        self.model[off:off + len(data)] = data

    @rule(off=st.integers(0, SIZE - 1), n=st.integers(1, 2 * PAGE_SIZE))
    def read(self, off: int, n: int) -> None:
        n = min(n, self.SIZE - off)
        if self.madv == MADV_PURGED:
            with pytest.raises(EFAULT):
                pread(self.dev, self.file, self.mm, self.handle, off, n, self.buf)
            return
        pread(self.dev, self.file, self.mm, self.handle, off, n, self.buf)
        self.has_pages = True
        assert self.mm.cpu_read(self.buf, n) == bytes(self.model[off:off + n])

    @rule(advice=st.sampled_from([MADV_WILLNEED, MADV_DONTNEED]))
    def advise(self, advice: int) -> None:
        retained = madvise(self.dev, self.file, self.handle, advice)
        if self.madv != MADV_PURGED:
            self.madv = advice
            if advice == MADV_DONTNEED and not self.has_pages:
                self.madv = MADV_PURGED
        assert retained == (self.madv != MADV_PURGED)

    @rule()
    def shrink(self) -> None:
        shrink_all(self.dev)
        self.has_pages = False
        if self.madv == MADV_DONTNEED:
            self.madv = MADV_PURGED

    @invariant()
    def object_state_matches(self) -> None:
        obj = self.file.lookup(self.handle)
        assert obj.madv == self.madv
        if self.has_pages:
            assert obj.has_pages()
        obj.put()

    def teardown(self) -> None:
        self.file.release()
        self.mm.exit_mmap()
        assert self.dev.counters()["objects"] == 0 and nr_tracked(self.dev) == 0
        assert self.phys.nr_used() == 0


PurgeableObjectMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=25,
                                                    deadline=None)
test_purgeable_object_matches_its_model = PurgeableObjectMachine.TestCase
