"""Nothing leaks: after every address space exits and every pin is dropped, no frame is used."""

from __future__ import annotations

import random

from mmtest import ANON, RW, SHARED_ANON, DeviceFile, P

from softgem.mm import Mm, PhysMem, pin_user_pages, unpin_user_pages
from softgem.posix import (
    MADV_DONTNEED,
    MAP_FIXED,
    MAP_SHARED,
    MREMAP_MAYMOVE,
    PROT_READ,
)


def test_a_busy_family_of_processes_leaves_no_frame_and_no_pin_behind() -> None:
    phys = PhysMem(4096, rng=random.Random(3))
    dev = DeviceFile(phys, 4)
    parent = Mm(phys, rng=random.Random(4))
    a = parent.mmap(0, 16 * P, RW, ANON)
    s = parent.mmap(0, 4 * P, RW, SHARED_ANON)
    d = parent.mmap(0, 4 * P, RW, MAP_SHARED, file=dev)
    parent.cpu_write(a, b"p" * 16 * P)
    parent.cpu_write(s, b"s" * 4 * P)
    parent.cpu_read(d, 4 * P)
    pins = pin_user_pages(parent, a, 8, write=True)
    child = parent.fork()
    grandchild = child.fork()
    child.cpu_write(a + 8 * P, b"c" * 8 * P)
    b = grandchild.mremap(a, 16 * P, 32 * P, MREMAP_MAYMOVE)
    grandchild.cpu_write(b + 20 * P, b"g")
    grandchild.madvise(b, 4 * P, MADV_DONTNEED)
    child.mmap(a, 4 * P, PROT_READ, ANON | MAP_FIXED)
    parent.brk(parent.brk(0) + 8 * P)
    parent.cpu_write(parent.brk(0) - P, b"heap")
    read_pins = pin_user_pages(child, s, 4, write=False)
    assert phys.nr_pinned() == 12

    for mm in (parent, grandchild):
        mm.exit_mmap()
    assert phys.nr_used() > len(dev.frames)       # pins and the child keep frames alive
    child.exit_mmap()
    unpin_user_pages(phys, pins, dirty=True)
    unpin_user_pages(phys, read_pins, dirty=False)
    dev.free()
    assert phys.nr_used() == 0 and phys.nr_pinned() == 0
    for mm in (parent, child, grandchild):
        assert mm.nr_vmas() == 0 and mm.nr_ptes() == 0 and mm.pt.nr_tables() == 0
    assert not dev.mapping.mapped()
