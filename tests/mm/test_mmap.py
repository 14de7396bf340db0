from __future__ import annotations

import random

import pytest
from mmtest import ANON, RW, SHARED_ANON, DeviceFile, P

from softgem.errors import EBADF, EEXIST, EINVAL, ENOMEM, EOPNOTSUPP, EPERM, KernelError
from softgem.mm import VM_ACCOUNT, VM_MAYSHARE, VM_READ, VM_SHARED, VM_WRITE, Mm, PhysMem
from softgem.posix import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    PROT_NONE,
    PROT_READ,
)
from softgem.units import TASK_SIZE

MMAP_LADDER = [
    # (addr, length, prot, flags, errno class)
    (0, 0, RW, ANON, EINVAL),
    (0, 2**64 - 1, RW, ANON, ENOMEM),
    (0, TASK_SIZE + P, RW, ANON, ENOMEM),
    (0x12345001, P, RW, ANON | MAP_FIXED, EINVAL),
    (0x1000, P, RW, ANON | MAP_FIXED, EPERM),
    (TASK_SIZE - P, 2 * P, RW, ANON | MAP_FIXED, ENOMEM),
    (0, P, RW, MAP_ANONYMOUS, EINVAL),
    (0, P, RW, MAP_ANONYMOUS | MAP_SHARED_VALIDATE, EINVAL),
    (0, P, RW, MAP_PRIVATE, EBADF),
    (0, P, RW, MAP_ANONYMOUS | 0x40000 | MAP_PRIVATE, ENOMEM),
]


@pytest.mark.parametrize(("addr", "length", "prot", "flags", "err"), MMAP_LADDER)
def test_mmap_refuses_bad_arguments_with_linux_errno(
        mm: Mm, addr: int, length: int, prot: int, flags: int, err: type[KernelError]) -> None:
    with pytest.raises(err):
        mm.mmap(addr, length, prot, flags)
    assert mm.nr_vmas() == 0


def test_anonymous_mappings_are_placed_top_down_below_a_randomised_base(phys: PhysMem) -> None:
    a = Mm(phys, rng=random.Random(1))
    b = Mm(phys, rng=random.Random(2))
    assert a.mmap_base != b.mmap_base
    x = a.mmap(0, 3 * P, RW, ANON)
    y = a.mmap(0, P, PROT_READ, ANON)
    assert x + 3 * P <= a.mmap_base
    assert y + P == x


def test_a_free_hint_address_is_used_as_is(mm: Mm) -> None:
    hint = 0x7000_0000_0000
    assert mm.mmap(hint, P, RW, ANON) == hint
    # an occupied hint is not: the mapping goes elsewhere, the old one survives
    other = mm.mmap(hint, P, RW, ANON)
    assert other != hint
    assert mm.vma_lookup(hint) is not None


def test_unaligned_hint_is_rounded_down_and_low_hints_are_raised_to_mmap_min_addr(mm: Mm) -> None:
    assert mm.mmap(0x7000_0000_0123, P, RW, ANON) == 0x7000_0000_0000
    assert mm.mmap(0x2000, P, RW, ANON) == 0x10000


def test_length_is_rounded_up_to_whole_pages(mm: Mm) -> None:
    a = mm.mmap(0, 1000, RW, ANON)
    vma = mm.vma_lookup(a)
    assert vma is not None and vma.end - vma.start == P
    mm.cpu_write(a + 4000, b"x" * 96)


def test_map_fixed_replaces_what_is_there(mm: Mm) -> None:
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.cpu_write(a, b"old" * 10)
    assert mm.mmap(a + P, P, PROT_READ, ANON | MAP_FIXED) == a + P
    assert [v.end - v.start for v in mm.vmas()] == [P, P, 2 * P]
    assert mm.cpu_read(a, 3) == b"old"
    assert mm.vma_lookup(a + P).flags & VM_WRITE == 0  # type: ignore[union-attr]


def test_map_fixed_noreplace_fails_with_eexist_over_a_mapping(mm: Mm) -> None:
    a = mm.mmap(0, 2 * P, RW, ANON)
    with pytest.raises(EEXIST):
        mm.mmap(a + P, 2 * P, RW, ANON | MAP_FIXED_NOREPLACE)
    b = a - 4 * P
    assert mm.mmap(b, P, RW, ANON | MAP_FIXED_NOREPLACE) == b


def test_noreplace_is_checked_before_the_map_type(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    with pytest.raises(EEXIST):
        mm.mmap(a, P, RW, MAP_ANONYMOUS | MAP_FIXED_NOREPLACE)


def test_adjacent_compatible_anonymous_mappings_merge_into_one_vma(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    b = mm.mmap(0, P, RW, ANON)
    assert b + P == a
    assert mm.nr_vmas() == 1
    c = mm.mmap(0, P, PROT_READ, ANON)
    assert c + P == b and mm.nr_vmas() == 2


def test_private_writable_anonymous_memory_is_accounted(mm: Mm) -> None:
    v = mm.vma_lookup(mm.mmap(0, P, RW, ANON))
    assert v is not None and v.flags & VM_ACCOUNT and v.flags & VM_READ


def test_shared_anonymous_mappings_never_merge_with_each_other(mm: Mm) -> None:
    mm.mmap(0, P, RW, SHARED_ANON)
    mm.mmap(0, P, RW, SHARED_ANON)
    assert mm.nr_vmas() == 2
    assert all(v.flags & (VM_SHARED | VM_MAYSHARE) for v in mm.vmas())


MUNMAP_LADDER = [(0x10001, P), (0x10000, 0), (TASK_SIZE + P, P), (0x10000, TASK_SIZE)]


@pytest.mark.parametrize(("addr", "length"), MUNMAP_LADDER)
def test_munmap_refuses_unaligned_empty_or_out_of_range_with_einval(
        mm: Mm, addr: int, length: int) -> None:
    with pytest.raises(EINVAL):
        mm.munmap(addr, length)


def test_munmap_of_nothing_succeeds(mm: Mm) -> None:
    mm.munmap(0x7000_0000_0000, 16 * P)


def test_munmap_splits_and_spans_vmas(mm: Mm) -> None:
    a = mm.mmap(0, 8 * P, RW, ANON)
    mm.mprotect(a + 4 * P, 4 * P, PROT_READ)
    mm.cpu_write(a, b"\1" * 8 * P if False else b"\1" * 4 * P)
    mm.munmap(a + 2 * P, 4 * P)
    assert [(v.start - a, v.end - a) for v in mm.vmas()] == [(0, 2 * P), (6 * P, 8 * P)]
    assert mm.nr_ptes() == 2
    assert mm.cpu_read(a + P, 1) == b"\1"


def test_munmap_releases_the_address_range_for_reuse(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    mm.munmap(a, P)
    assert mm.mmap(0, P, RW, ANON) == a


def test_map_populate_faults_the_range_in_at_once(mm: Mm) -> None:
    mm.mmap(0, 4 * P, RW, ANON | MAP_POPULATE)
    assert mm.nr_ptes() == 4
    assert mm.phys.nr_used() == 4


def test_a_file_mapping_calls_the_files_mmap_and_joins_its_i_mmap(
        mm: Mm, dev: DeviceFile) -> None:
    a = mm.mmap(0, 2 * P, RW, MAP_SHARED, file=dev, pgoff=1)
    vma = mm.vma_lookup(a)
    assert vma is not None and vma.vm_ops is dev.ops and vma.pgoff == 1
    assert dev.mapping.vmas() == [vma]
    mm.munmap(a, 2 * P)
    assert not dev.mapping.mapped() and dev.ops.closed == 1


def test_a_file_may_refuse_the_mapping_and_nothing_is_left_behind(
        phys: PhysMem, mm: Mm) -> None:
    ro = DeviceFile(phys, 2, read_only=True)
    with pytest.raises(EINVAL):
        mm.mmap(0, P, RW, MAP_SHARED, file=ro)
    assert mm.nr_vmas() == 0 and not ro.mapping.mapped()
    mm.mmap(0, P, PROT_READ, MAP_SHARED, file=ro)


def test_shared_validate_rejects_flags_the_file_does_not_know(mm: Mm, dev: DeviceFile) -> None:
    with pytest.raises(EOPNOTSUPP):
        mm.mmap(0x7000_0000_0000, P, RW, MAP_SHARED_VALIDATE | MAP_FIXED_NOREPLACE, file=dev)
    mm.mmap(0, P, RW, MAP_SHARED | 0x80000000, file=dev)   # legacy MAP_SHARED ignores it


def test_file_mapping_errno_when_the_file_was_not_opened_for_writing(
        mm: Mm, dev: DeviceFile) -> None:
    dev.writable = False  # type: ignore[attr-defined]
    from softgem.errors import EACCES
    with pytest.raises(EACCES):
        mm.mmap(0, P, RW, MAP_SHARED, file=dev)
    a = mm.mmap(0, P, PROT_READ, MAP_SHARED, file=dev)
    with pytest.raises(EACCES):
        mm.mprotect(a, P, RW)


def test_prot_none_mapping_exists_but_cannot_be_touched(mm: Mm) -> None:
    from softgem.errors import Segfault
    a = mm.mmap(0, P, PROT_NONE, ANON)
    with pytest.raises(Segfault):
        mm.cpu_read(a, 1)


class TestBrk:
    def test_brk_below_the_start_answers_the_current_break(self, mm: Mm) -> None:
        assert mm.brk(0) == mm.start_brk

    def test_brk_grows_a_heap_vma_and_shrinks_it(self, mm: Mm) -> None:
        base = mm.brk(0)
        assert mm.brk(base + 3 * P + 5) == base + 3 * P + 5
        heap = mm.vma_lookup(base)
        assert heap is not None and heap.end == base + 4 * P
        mm.cpu_write(base + 3 * P, b"heap")
        assert mm.brk(base + 4 * P + 1) == base + 4 * P + 1
        assert mm.nr_vmas() == 1 and mm.vmas()[0].end == base + 5 * P
        assert mm.brk(base + P) == base + P
        assert mm.vmas()[0].end == base + P and mm.nr_ptes() == 0

    def test_brk_refuses_to_grow_into_a_mapping(self, mm: Mm) -> None:
        base = mm.brk(0)
        mm.mmap(base + 4 * P, P, RW, ANON | MAP_FIXED)
        assert mm.brk(base + 4 * P) == base
        assert mm.brk(base + 3 * P) == base + 3 * P


def test_vm_max_map_count_bounds_mappings_and_splits(monkeypatch: pytest.MonkeyPatch) -> None:
    import softgem.mm.mmap as mmap_mod
    from softgem.mm import vmaops
    monkeypatch.setattr(mmap_mod, "MAX_MAP_COUNT", 2)
    monkeypatch.setattr(vmaops, "MAX_MAP_COUNT", 2)
    mm = Mm(PhysMem(8))
    a = mm.mmap(0, 3 * P, RW, ANON)
    mm.mmap(0, P, PROT_READ, ANON)          # neighbours with other rights: no merging
    mm.mmap(0, P, RW, ANON)
    assert mm.nr_vmas() == 3                # the check is "more than the limit" already
    with pytest.raises(ENOMEM):
        mm.mmap(0, P, PROT_READ, ANON)
    with pytest.raises(ENOMEM):
        mm.munmap(a + P, P)                 # would need a split
    mm.munmap(a, 3 * P)                     # no split needed
