from __future__ import annotations

import pytest
from mmtest import ANON, RW, DeviceFile, P

from softgem.errors import EACCES, EINVAL, ENOMEM, KernelError, Segfault
from softgem.mm import VM_ACCOUNT, VM_WRITE, Mm
from softgem.mm.mprotect import PROT_GROWSDOWN, PROT_GROWSUP
from softgem.posix import MAP_SHARED, PROT_EXEC, PROT_NONE, PROT_READ

# (offset, length, prot, errno) against a 4-page RW mapping followed by a 1-page hole
LADDER = [
    (0, P, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP, EINVAL),
    (1, P, PROT_READ, EINVAL),
    (0, 2**64 - P, PROT_READ, ENOMEM),          # wraps
    (0, P, 0x10, EINVAL),                        # unknown prot bit
    (-P, 2 * P, PROT_READ, ENOMEM),              # starts in a hole
    (6 * P, P, PROT_READ, ENOMEM),               # nothing there
    (0, 6 * P, PROT_READ, ENOMEM),               # hole inside
    (0, P, PROT_READ | PROT_GROWSDOWN, EINVAL),  # not a grows-down mapping
    (0, P, PROT_READ | PROT_GROWSUP, EINVAL),
]


@pytest.mark.parametrize(("off", "length", "prot", "err"), LADDER)
def test_mprotect_errno_ladder(mm: Mm, off: int, length: int, prot: int,
                               err: type[KernelError]) -> None:
    mm.mmap(0x7000_0000_0000 + 5 * P, P, RW, ANON)
    a = mm.mmap(0x7000_0000_0000, 4 * P, RW, ANON)
    with pytest.raises(err):
        mm.mprotect(a + off, length, prot)


def test_length_zero_succeeds_without_looking(mm: Mm) -> None:
    mm.mprotect(0x7000_0000_0000, 0, PROT_READ)


def test_protection_splits_and_re_merges_vmas(mm: Mm) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.mprotect(a + P, 2 * P, PROT_READ)
    assert mm.nr_vmas() == 3
    with pytest.raises(Segfault):
        mm.cpu_write(a + P, b"x")
    mm.cpu_write(a, b"ok")
    mm.mprotect(a + P, 2 * P, RW)
    assert mm.nr_vmas() == 1
    mm.cpu_write(a + P, b"ok")


def test_vmas_before_a_hole_keep_their_new_rights(mm: Mm) -> None:
    a = mm.mmap(0x7000_0000_0000, 2 * P, RW, ANON)
    mm.mmap(a + 3 * P, P, RW, ANON)
    with pytest.raises(ENOMEM):
        mm.mprotect(a, 4 * P, PROT_READ)
    assert not mm.vma_lookup(a).flags & VM_WRITE  # type: ignore[union-attr]
    assert mm.vma_lookup(a + 3 * P).flags & VM_WRITE  # type: ignore[union-attr]


def test_removing_write_write_protects_present_pages_and_cow_still_works(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    mm.cpu_write(a, b"v1")
    mm.mprotect(a, P, PROT_READ)
    mm.mprotect(a, P, RW)
    used = mm.phys.nr_used()
    mm.cpu_write(a, b"v2")
    assert mm.phys.nr_used() == used and mm.cpu_read(a, 2) == b"v2"


def test_making_private_memory_writable_accounts_it(mm: Mm) -> None:
    a = mm.mmap(0, P, PROT_READ, ANON)
    assert not mm.vma_lookup(a).flags & VM_ACCOUNT  # type: ignore[union-attr]
    mm.mprotect(a, P, RW | PROT_EXEC)
    assert mm.vma_lookup(a).flags & VM_ACCOUNT  # type: ignore[union-attr]


def test_a_right_the_file_never_granted_is_eacces(mm: Mm, dev: DeviceFile) -> None:
    from mmtest import DeviceFile as Dev
    ro = Dev(mm.phys, 1, read_only=True)
    a = mm.mmap(0, P, PROT_READ, MAP_SHARED, file=ro)
    with pytest.raises(EACCES):
        mm.mprotect(a, P, RW)
    mm.mprotect(a, P, PROT_NONE)


def test_the_files_mprotect_hook_may_refuse(mm: Mm, dev: DeviceFile) -> None:
    a = mm.mmap(0, P, PROT_READ, MAP_SHARED, file=dev)
    dev.read_only = True
    with pytest.raises(EACCES):
        mm.mprotect(a, P, RW)
    dev.read_only = False
    mm.mprotect(a, P, RW)
    mm.cpu_write(a, b"w")
