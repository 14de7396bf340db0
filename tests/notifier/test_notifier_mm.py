"""Interval and whole-mm notifiers on the real simulated address space (softgem.mm.Mm)."""

from __future__ import annotations

from notifier_helpers import RecordingMmOps, RecordingOps

from softgem.mm import Mm, NotifyEvent, PhysMem
from softgem.notifier import (
    MmuIntervalNotifier,
    MmuNotifier,
    mmu_interval_notifier_insert,
    mmu_interval_notifier_remove,
    mmu_interval_read_begin,
    mmu_interval_read_retry,
    mmu_notifier_register,
    mmu_notifier_unregister,
    subscriptions_of,
)
from softgem.posix import (
    MADV_DONTNEED,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PROT_READ,
    PROT_WRITE,
)

PAGE = 4096
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS


def setup(pages: int = 16) -> tuple[Mm, int]:
    mm = Mm(PhysMem(256))
    return mm, mm.mmap(0, pages * PAGE, RW, ANON)


def watch(mm: Mm, start: int, length: int) -> tuple[MmuIntervalNotifier, RecordingOps]:
    sub, ops = MmuIntervalNotifier(), RecordingOps()
    mmu_interval_notifier_insert(sub, mm, start, length, ops)
    return sub, ops


def events_of(ops: RecordingOps) -> list[tuple[int, int, NotifyEvent]]:
    return [(s, e, ev) for s, e, ev, _ in ops.calls]


def test_an_address_space_nobody_watches_never_gets_subscriptions() -> None:
    mm, base = setup()
    mm.cpu_write(base, b"x")
    mm.munmap(base, 16 * PAGE)
    assert subscriptions_of(mm) is None


def test_munmap_over_a_registered_interval_invalidates_it() -> None:
    mm, base = setup()
    sub, ops = watch(mm, base + 4 * PAGE, 4 * PAGE)
    seq = mmu_interval_read_begin(sub)
    mm.munmap(base + 6 * PAGE, PAGE)                  # never faulted in: fires anyway
    assert events_of(ops) == [(base + 6 * PAGE, base + 7 * PAGE, NotifyEvent.UNMAP)]
    assert mmu_interval_read_retry(sub, seq)


def test_munmap_next_to_an_interval_does_not_touch_it() -> None:
    mm, base = setup()
    _, ops = watch(mm, base + 4 * PAGE, 4 * PAGE)
    mm.munmap(base, 4 * PAGE)                         # ends where the interval starts
    mm.munmap(base + 8 * PAGE, 4 * PAGE)              # starts where it ends
    assert ops.calls == []


def test_mmap_fixed_over_an_interval_unmaps_it_first() -> None:
    mm, base = setup()
    _, ops = watch(mm, base, 4 * PAGE)
    mm.mmap(base + PAGE, PAGE, RW, ANON | MAP_FIXED)
    assert events_of(ops) == [(base + PAGE, base + 2 * PAGE, NotifyEvent.UNMAP)]


def test_madvise_dontneed_clears_and_mremap_move_unmaps_the_old_range() -> None:
    mm, base = setup()
    mm.cpu_write(base, b"data")
    _, ops = watch(mm, base, 2 * PAGE)
    mm.madvise(base, PAGE, MADV_DONTNEED)
    target = mm.mmap(0, 2 * PAGE, RW, ANON)
    mm.mremap(base, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, target)
    seen = events_of(ops)
    assert seen[0] == (base, base + PAGE, NotifyEvent.CLEAR)
    # Moving the page tables, then unmapping the old VMA: the kernel raises UNMAP for both.
    assert seen[1:] and set(seen[1:]) == {(base, base + 2 * PAGE, NotifyEvent.UNMAP)}


def test_mprotect_fires_only_over_populated_page_tables() -> None:
    mm, base = setup()
    _, ops = watch(mm, base, 16 * PAGE)
    mm.mprotect(base, 4 * PAGE, PROT_READ)            # nothing populated yet
    assert ops.calls == []
    mm.cpu_write(base + 8 * PAGE, b"x")
    mm.mprotect(base + 8 * PAGE, PAGE, PROT_READ)
    assert [ev for _, _, ev in events_of(ops)] == [NotifyEvent.PROTECTION_VMA]


def test_fork_write_protects_the_parent_and_the_child_has_no_subscriptions() -> None:
    mm, base = setup()
    mm.cpu_write(base, b"x")
    _, ops = watch(mm, base, PAGE)
    child = mm.fork()
    assert NotifyEvent.PROTECTION_PAGE in [ev for _, _, ev in events_of(ops)]
    assert child.notifier_subscriptions is None


def test_exit_releases_every_interval_and_the_drivers_can_still_remove_them() -> None:
    mm, base = setup()
    sub, ops = watch(mm, base, PAGE)
    far, far_ops = watch(mm, 1 << 40, PAGE)           # not even mapped
    whole = MmuNotifier(RecordingMmOps())
    mmu_notifier_register(whole, mm)
    mm.exit_mmap()
    assert events_of(ops)[0] == (0, (1 << 64) - 1, NotifyEvent.RELEASE)   # [0, ULONG_MAX)
    assert events_of(far_ops)[0] == (0, (1 << 64) - 1, NotifyEvent.RELEASE)
    assert ("release", 0, 0) in whole.ops.calls       # type: ignore[attr-defined]
    subs = subscriptions_of(mm)
    assert subs is not None and subs.nr_registrations() == 2
    mmu_interval_notifier_remove(sub)
    mmu_interval_notifier_remove(far)
    mmu_notifier_unregister(whole, mm)
    assert subs.nr_registrations() == 0 and subs.active == 0
