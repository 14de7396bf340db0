"""CPU loads/stores and the kernel's user copies: faults, zero page, COW, errors."""

from __future__ import annotations

import pytest
from mmtest import ANON, RW, SHARED_ANON, DeviceFile, P

from softgem.errors import EFAULT, Segfault, Sigbus
from softgem.mm import Mm, PhysMem
from softgem.posix import MAP_SHARED, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE
from softgem.units import TASK_SIZE


def test_untouched_anonymous_memory_reads_as_zeros_from_the_shared_zero_page(mm: Mm) -> None:
    a = mm.mmap(0, 3 * P, RW, ANON)
    assert mm.cpu_read(a, 3 * P) == bytes(3 * P)
    assert mm.phys.nr_used() == 0
    assert {pfn for _, pfn in mm.resident_pages()} == {mm.phys.zero_pfn}


def test_a_store_allocates_a_private_page_and_reads_see_it(mm: Mm) -> None:
    a = mm.mmap(0, 2 * P, RW, ANON)
    mm.cpu_write(a + P - 3, b"across")
    assert mm.cpu_read(a + P - 3, 6) == b"across"
    assert mm.phys.nr_used() == 2


def test_a_large_copy_moves_whole_pages(mm: Mm) -> None:
    a = mm.mmap(0, 64 * P, RW, ANON)
    blob = bytes(range(256)) * (64 * P // 256)
    mm.cpu_write(a + 1, blob[:-1])
    assert mm.cpu_read(a + 1, len(blob) - 1) == blob[:-1]


@pytest.mark.parametrize(("prot", "read_ok", "write_ok"), [
    (PROT_NONE, False, False),
    (PROT_READ, True, False),
    (PROT_WRITE, True, True),          # x86: write implies read
    (PROT_EXEC, True, False),
    (RW, True, True),
])
def test_rights_of_cpu_access_follow_x86(mm: Mm, prot: int, read_ok: bool,
                                         write_ok: bool) -> None:
    a = mm.mmap(0, P, prot, ANON)
    if read_ok:
        mm.cpu_read(a, 1)
    else:
        with pytest.raises(Segfault):
            mm.cpu_read(a, 1)
    if write_ok:
        mm.cpu_write(a, b"w")
    else:
        with pytest.raises(Segfault) as info:
            mm.cpu_write(a, b"w")
        assert info.value.addr == a and info.value.write


def test_access_to_a_hole_segfaults_at_the_first_bad_byte(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    mm.munmap(a, P)
    with pytest.raises(Segfault) as info:
        mm.cpu_read(a + 10, 4)
    assert info.value.addr == a + 10


def test_a_write_crossing_into_a_read_only_page_stores_the_first_part(mm: Mm) -> None:
    a = mm.mmap(0, 2 * P, RW, ANON)
    mm.mprotect(a + P, P, PROT_READ)
    with pytest.raises(Segfault) as info:
        mm.cpu_write(a + P - 2, b"abcd")
    assert info.value.addr == a + P
    assert mm.cpu_read(a + P - 2, 2) == b"ab"


@pytest.mark.parametrize(("addr", "size", "ok"), [
    (0, 0, True), (0, TASK_SIZE, True), (TASK_SIZE - 1, 1, True), (TASK_SIZE, 1, False),
    (TASK_SIZE - 1, 2, False), (-1, 1, False), (2**64 - 1, 2, False),
])
def test_access_ok_checks_the_whole_range_against_task_size(
        mm: Mm, addr: int, size: int, ok: bool) -> None:
    assert mm.access_ok(addr, size) is ok


def test_user_copies_fail_with_efault_instead_of_a_signal(mm: Mm) -> None:
    a = mm.mmap(0, P, PROT_READ, ANON)
    assert mm.copy_from_user(a, 4) == bytes(4)
    with pytest.raises(EFAULT):
        mm.copy_to_user(a, b"x")
    with pytest.raises(EFAULT):
        mm.copy_from_user(a + P, 1)
    with pytest.raises(EFAULT):
        mm.copy_from_user(TASK_SIZE - 1, 2)
    assert mm.copy_from_user(a, 0) == b""


def test_cow_after_fork_gives_each_side_its_own_copy(mm: Mm) -> None:
    a = mm.mmap(0, P, RW, ANON)
    mm.cpu_write(a, b"parent")
    child = mm.fork()
    child.cpu_write(a, b"child!")
    assert mm.cpu_read(a, 6) == b"parent"
    assert child.cpu_read(a, 6) == b"child!"
    assert mm.phys.nr_used() == 2
    child.exit_mmap()
    mm.cpu_write(a, b"reuse")      # exclusive again: no copy
    assert mm.phys.nr_used() == 1


def test_shared_anonymous_memory_is_seen_through_every_mapping(mm: Mm) -> None:
    a = mm.mmap(0, 2 * P, RW, SHARED_ANON)
    child = mm.fork()
    child.cpu_write(a + P, b"from child")
    assert mm.cpu_read(a + P, 10) == b"from child"
    child.exit_mmap()
    assert mm.cpu_read(a + P, 10) == b"from child"


def test_a_device_mapping_faults_through_its_handler_onto_its_frames(
        mm: Mm, dev: DeviceFile) -> None:
    a = mm.mmap(0, 2 * P, RW, MAP_SHARED, file=dev)
    mm.cpu_write(a + P, b"dev")
    assert mm.phys.read(dev.frames[1], 0, 3) == b"dev"
    assert dev.ops.faults == [(a + P, True)]
    assert mm.cpu_read(a + P, 3) == b"dev"


def test_a_failing_device_fault_is_sigbus_for_the_cpu_and_efault_for_the_kernel(
        mm: Mm, dev: DeviceFile) -> None:
    dev.broken = True
    a = mm.mmap(0, P, RW, MAP_SHARED, file=dev)
    with pytest.raises(Sigbus):
        mm.cpu_read(a, 1)
    with pytest.raises(EFAULT):
        mm.copy_from_user(a, 1)


def test_a_private_device_mapping_copies_on_write(mm: Mm, dev: DeviceFile) -> None:
    from softgem.posix import MAP_PRIVATE
    dev.phys.write(dev.frames[0], 0, b"orig")
    a = mm.mmap(0, P, RW, MAP_PRIVATE, file=dev)
    assert mm.cpu_read(a, 4) == b"orig"
    mm.cpu_write(a, b"mine")
    assert dev.phys.read(dev.frames[0], 0, 4) == b"orig"
    assert mm.cpu_read(a, 4) == b"mine"


def test_shared_anonymous_memory_grown_with_mremap_sigbuses_past_its_size(mm: Mm) -> None:
    from softgem.posix import MREMAP_MAYMOVE
    a = mm.mmap(0, P, RW, SHARED_ANON)
    b = mm.mremap(a, P, 2 * P, MREMAP_MAYMOVE)
    mm.cpu_write(b, b"ok")
    with pytest.raises(Sigbus):
        mm.cpu_write(b + P, b"past the end")


def test_running_out_of_memory_in_a_user_fault_is_the_oom_killer() -> None:
    from softgem.errors import EFAULT, OomKilled
    mm = Mm(PhysMem(3))
    a = mm.mmap(0, 4 * P, RW, ANON)
    mm.cpu_write(a, b"x" * 2 * P)
    with pytest.raises(OomKilled) as info:
        mm.cpu_write(a + 2 * P, b"y")
    assert info.value.addr == a + 2 * P and info.value.write
    # copy_to_user faulting out of memory is fixed up to EFAULT, as a kernel-mode fault is.
    with pytest.raises(EFAULT):
        mm.copy_to_user(a + 2 * P, b"y")


@pytest.mark.parametrize(("raised", "expected"), [("ENOMEM", "OomKilled"), ("EIO", "Sigbus"),
                                                  ("EFAULT", "Sigbus")])
def test_an_error_a_fault_handler_lets_through_is_a_fault_code_not_an_errno(
        mm: Mm, dev: DeviceFile, monkeypatch: pytest.MonkeyPatch, raised: str,
        expected: str) -> None:
    import softgem.errors as errors
    from softgem.mm import Vma, VmFault

    def fault(vma: Vma, addr: int, write: bool) -> VmFault:
        raise getattr(errors, raised)("a handler without i915_error_to_vmf_fault")

    monkeypatch.setattr(dev.ops, "fault", fault)
    a = mm.mmap(0, P, RW, MAP_SHARED, file=dev)
    with pytest.raises(getattr(errors, expected)) as info:
        mm.cpu_read(a, 1)
    assert not isinstance(info.value, errors.KernelError)
    with pytest.raises(EFAULT):                         # copy_from_user: EFAULT either way
        mm.copy_from_user(a, 1)
