"""shmem objects: lazy frames, the backing store across put_pages, truncation, release."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from softgem.errors import E2BIG, EFAULT, EINVAL, ENOMEM
from softgem.gem.device import GemDevice
from softgem.gem.object import MADV_DONTNEED, MADV_PURGED, GemObject
from softgem.gem.ops import ObjectFlags
from softgem.gem.shmem import MAX_LFS_FILESIZE, SHMEM_OPS, is_shmem, shmem_create
from softgem.gem.shrinker import nr_tracked
from softgem.mm import PhysMem
from softgem.units import PAGE_SIZE


@pytest.fixture
def phys() -> PhysMem:
    return PhysMem(256)


@pytest.fixture
def dev(phys: PhysMem) -> Iterator[GemDevice]:
    dev = GemDevice(phys)
    yield dev
    assert dev.counters()["objects"] == 0
    assert phys.nr_used() == 0
    assert nr_tracked(dev) == 0


def _pin(obj: GemObject) -> np.ndarray:
    with obj.lock:
        pages = obj.pin_pages_locked()
    return pages.pfns


def _unpin_and_put(obj: GemObject) -> bool:
    with obj.lock:
        obj.unpin_pages_locked()
        return obj.put_pages_locked()


def test_a_new_object_owns_no_frames_until_its_pages_are_wanted(dev: GemDevice,
                                                                 phys: PhysMem) -> None:
    obj = shmem_create(dev, 16 * PAGE_SIZE)
    assert is_shmem(obj) and obj.ops is SHMEM_OPS
    assert phys.nr_used() == 0 and not obj.has_pages()
    pfns = _pin(obj)
    assert phys.nr_used() == 16 and len(pfns) == 16
    assert not phys.data[[phys.index(p) for p in pfns]].any()   # zeroed
    _unpin_and_put(obj)
    obj.put()


def test_the_kind_is_a_shrinkable_struct_page_object_with_a_filp(dev: GemDevice) -> None:
    obj = shmem_create(dev, PAGE_SIZE)
    assert obj.flags == (ObjectFlags.HAS_STRUCT_PAGE | ObjectFlags.IS_SHRINKABLE
                         | ObjectFlags.HAS_FILP)
    obj.put()


def test_consecutive_frames_coalesce_into_one_segment(dev: GemDevice) -> None:
    obj = shmem_create(dev, 8 * PAGE_SIZE)
    with obj.lock:
        pages = obj.pin_pages_locked()
    assert pages.nents == 1 and pages.segments[0].npages == 8
    _unpin_and_put(obj)
    obj.put()


def test_put_pages_keeps_the_contents_in_the_backing_store(dev: GemDevice,
                                                           phys: PhysMem) -> None:
    obj = shmem_create(dev, 2 * PAGE_SIZE)
    pfns = _pin(obj)
    phys.write(int(pfns[1]), 10, b"kept")
    assert _unpin_and_put(obj)
    assert not obj.has_pages() and phys.nr_used() == 2
    again = _pin(obj)
    assert phys.read(int(again[1]), 10, 4) == b"kept"
    _unpin_and_put(obj)
    obj.put()


def test_put_pages_returns_the_object_to_the_cpu_domain(dev: GemDevice) -> None:
    obj = shmem_create(dev, PAGE_SIZE)
    _pin(obj)
    obj.read_domains = obj.write_domain = 0x40
    _unpin_and_put(obj)
    assert (obj.read_domains, obj.write_domain) == (1, 1)
    obj.put()


def test_put_pages_marks_dirty_frames_dirty_and_wanted_frames_accessed(
        dev: GemDevice, phys: PhysMem) -> None:
    obj = shmem_create(dev, PAGE_SIZE)
    pfn = int(_pin(obj)[0])
    obj.dirty = True
    _unpin_and_put(obj)
    assert phys.is_dirty(pfn) and phys.page_flags(pfn) & 0x2
    assert not obj.dirty
    obj.put()


def test_truncation_frees_the_frames_and_purges_the_object_for_good(
        dev: GemDevice, phys: PhysMem) -> None:
    obj = shmem_create(dev, 4 * PAGE_SIZE)
    _pin(obj)
    _unpin_and_put(obj)
    with obj.lock:
        obj.madv = MADV_DONTNEED
        SHMEM_OPS.truncate(obj)
        assert obj.madv == MADV_PURGED and phys.nr_used() == 0
        with pytest.raises(EFAULT):
            obj.get_pages_locked()
    obj.put()


@pytest.mark.parametrize("madv", [MADV_DONTNEED, MADV_PURGED])
def test_get_pages_of_a_purgeable_object_is_efault(dev: GemDevice, madv: int) -> None:
    obj = shmem_create(dev, PAGE_SIZE)
    obj.madv = madv
    with obj.lock, pytest.raises(EFAULT):
        obj.get_pages_locked()
    obj.put()


def test_an_object_larger_than_ram_fails_get_pages_with_enomem(dev: GemDevice,
                                                               phys: PhysMem) -> None:
    obj = shmem_create(dev, (phys.nr_frames + 1) * PAGE_SIZE)
    with obj.lock, pytest.raises(ENOMEM):
        obj.get_pages_locked()
    assert phys.nr_used() == 0
    obj.put()


def test_more_than_2_to_the_32_pages_fails_get_pages_with_e2big(dev: GemDevice) -> None:
    obj = shmem_create(dev, (1 << 32) * PAGE_SIZE + PAGE_SIZE)
    with obj.lock, pytest.raises(E2BIG):
        obj.get_pages_locked()
    obj.put()


def test_running_out_of_frames_purges_dontneed_objects_and_retries(dev: GemDevice,
                                                                   phys: PhysMem) -> None:
    victim = shmem_create(dev, 200 * PAGE_SIZE)
    _pin(victim)
    with victim.lock:
        victim.unpin_pages_locked()     # pages attached but unpinned: shrinkable
    victim.madv = MADV_DONTNEED
    obj = shmem_create(dev, 100 * PAGE_SIZE)   # 200 + 100 frames do not fit in 255
    pfns = _pin(obj)
    assert len(pfns) == 100 and phys.nr_used() == 100
    assert victim.madv == MADV_PURGED and not victim.has_pages()
    _unpin_and_put(obj)
    obj.put()
    victim.put()


def test_running_out_of_frames_with_nothing_to_shrink_is_enomem_and_leaks_nothing(
        dev: GemDevice, phys: PhysMem) -> None:
    hog = shmem_create(dev, 200 * PAGE_SIZE)
    _pin(hog)                       # pinned: the shrinker must leave it alone
    obj = shmem_create(dev, 100 * PAGE_SIZE)
    with obj.lock, pytest.raises(ENOMEM):
        obj.get_pages_locked()
    assert hog.has_pages()
    obj.put()                       # the frames it got before failing are freed with it
    _unpin_and_put(hog)
    hog.put()


@pytest.mark.parametrize(("size", "err"), [
    (0, EINVAL),
    (PAGE_SIZE + 1, EINVAL),
    (MAX_LFS_FILESIZE + 1, E2BIG),
])
def test_shmem_create_refuses_bad_sizes(dev: GemDevice, size: int,
                                        err: type[Exception]) -> None:
    with pytest.raises(err):
        shmem_create(dev, size)
    assert dev.counters()["objects"] == 0


def test_a_huge_object_is_created_without_allocating(dev: GemDevice, phys: PhysMem) -> None:
    obj = shmem_create(dev, 1 << 40)
    assert phys.nr_used() == 0 and obj.size == 1 << 40
    obj.put()


def test_release_frees_every_frame_of_the_store(dev: GemDevice, phys: PhysMem) -> None:
    obj = shmem_create(dev, 8 * PAGE_SIZE)
    _pin(obj)
    with obj.lock:
        obj.unpin_pages_locked()
    obj.put()
    assert phys.nr_used() == 0
