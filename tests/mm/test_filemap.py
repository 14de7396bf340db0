"""Device mappings: FileMapping (i_mmap), insert_pfn/insert_page, unmap_mapping_range."""

from __future__ import annotations

import pytest
from mmtest import ANON, RW, DeviceFile, P

from softgem.errors import SimBug
from softgem.mm import Mm, PhysMem
from softgem.posix import MAP_FIXED, MAP_SHARED, PROT_READ


def test_unmap_mapping_range_zaps_only_the_file_pages_asked_for(
        mm: Mm, dev: DeviceFile) -> None:
    a = mm.mmap(0, 4 * P, RW, MAP_SHARED, file=dev, pgoff=2)    # maps device pages 2..5
    mm.cpu_read(a, 4 * P)
    assert mm.nr_ptes() == 4
    dev.mapping.unmap_mapping_range(3, 2)                        # device pages 3 and 4
    assert sorted(addr - a for addr, _ in mm.resident_pages()) == [0, 3 * P]
    mm.cpu_read(a + P, 1)                                        # faults again
    assert mm.nr_ptes() == 3


def test_unmap_mapping_range_reaches_every_process_and_split_piece(
        mm: Mm, dev: DeviceFile) -> None:
    a = mm.mmap(0, 4 * P, RW, MAP_SHARED, file=dev)
    mm.mprotect(a + P, P, PROT_READ)                              # three pieces
    child = mm.fork()
    for m in (mm, child):
        m.cpu_read(a, 4 * P)
    assert dev.mapping.nr_vmas() == 6
    dev.mapping.unmap_mapping_range()
    assert mm.nr_ptes() == 0 and child.nr_ptes() == 0
    assert dev.ops.opened == 2 + 3 and dev.ops.closed == 0


def test_split_pieces_of_a_device_mapping_are_opened_and_closed_in_balance(
        mm: Mm, dev: DeviceFile) -> None:
    a = mm.mmap(0, 4 * P, RW, MAP_SHARED, file=dev)
    mm.munmap(a + P, P)                       # two splits, the middle piece closed
    assert dev.ops.opened == 2 and dev.ops.closed == 1
    mm.mmap(a + 3 * P, P, RW, ANON | MAP_FIXED)
    assert dev.ops.opened == 3 and dev.ops.closed == 2
    mm.exit_mmap()
    assert dev.ops.opened + 1 == dev.ops.closed == 4
    assert not dev.mapping.mapped()


def test_device_mappings_never_merge(mm: Mm, dev: DeviceFile) -> None:
    a = mm.mmap(0, 2 * P, RW, MAP_SHARED, file=dev)
    mm.mmap(a + 2 * P, 2 * P, RW, MAP_SHARED | MAP_FIXED, file=dev, pgoff=2)
    mm.mprotect(a, 2 * P, PROT_READ)
    mm.mprotect(a, 2 * P, RW)
    assert mm.nr_vmas() == 2


def test_insert_pfn_takes_no_page_reference_and_respects_write(
        mm: Mm, dev: DeviceFile) -> None:
    a = mm.mmap(0, P, PROT_READ, MAP_SHARED, file=dev)
    vma = mm.vma_lookup(a)
    assert vma is not None
    before = mm.phys.page_count(dev.frames[0])
    mm.insert_pfn(vma, a, dev.frames[0], writable=True)
    assert mm.phys.page_count(dev.frames[0]) == before
    assert mm.cpu_read(a, 1) == b"\0"
    mm.munmap(a, P)
    assert mm.phys.page_count(dev.frames[0]) == before


def test_insert_pfn_outside_a_pfnmap_vma_is_a_bug(mm: Mm, phys: PhysMem) -> None:
    a = mm.mmap(0, P, RW, ANON)
    vma = mm.vma_lookup(a)
    assert vma is not None
    with pytest.raises(SimBug):
        mm.insert_pfn(vma, a, phys.alloc_page(), writable=False)


def test_insert_page_takes_a_reference_that_the_zap_drops(mm: Mm, phys: PhysMem) -> None:
    from softgem.mm import FileMapping, Vma, VmFault
    pfn = phys.alloc_page()

    class PageFile:
        mapping = FileMapping("pages")

        def mmap(self, vma: Vma) -> None:
            vma.vm_ops = self

        def fault(self, vma: Vma, addr: int, write: bool) -> VmFault:
            vma.mm.insert_page(vma, addr, pfn, writable=True)
            return VmFault.NOPAGE

    a = mm.mmap(0, P, RW, MAP_SHARED, file=PageFile())
    mm.cpu_write(a, b"page")
    assert phys.page_count(pfn) == 2 and phys.read(pfn, 0, 4) == b"page"
    mm.munmap(a, P)
    assert phys.page_count(pfn) == 1
