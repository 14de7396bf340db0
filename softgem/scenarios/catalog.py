"""The shipped scenarios: the interleavings IGT stresses for userptr and mmap_offset.

Each is small on purpose (one or two operations per model thread): the explorer's power is
in the schedules, not in the loop counts.  The bounds in each decorator are the ones the
scenario is claimed clean within on today's design, each measured (docs/explore.md): 10,000
PCT schedules with d=3, and every schedule with at most ``preemptions`` = 2 preemptions, up to
equivalence (the reduced search ``softgem explore NAME --strategy dpor``: hundreds of
schedules for the small scenarios, 25,000-112,000 for munmap-vs-execbuf, mremap-vs-execbuf,
map-fixed-invalidate, process-exit-busy and sync-unmap-cycles, 397,107 for
invalidate-vs-busy-revalidate, 897,399 for exit-with-gpu-work).
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from .. import explore, igt, trace, uapi
from ..machine import Machine
from ..posix import MADV_DONTNEED, MAP_FIXED, MREMAP_FIXED, MREMAP_MAYMOVE
from .gem import ANON, RW, Gem
from .registry import scenario

PAGE = 4096


def _spawn(fn: object, name: str) -> None:
    assert callable(fn)
    explore.spawn(fn, name)


def _racing_exit(fn: Callable[[], object]) -> Callable[[], None]:
    """Run ``fn`` in a process that may exit meanwhile: ESRCH/EBADF then are its answer."""
    def run() -> None:
        try:
            fn()
        except OSError as e:
            assert e.errno in (errno.ESRCH, errno.EBADF), f"{fn}: {e}"
    return run


@scenario("munmap-vs-execbuf", preemptions=2, pct_schedules=10_000, pct_depth=3)
def munmap_vs_execbuf(m: Machine) -> None:
    """execbuf writing through a userptr while another thread munmaps its memory."""
    gem = Gem(m.spawn("race"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    bo = gem.userptr(ptr, PAGE)

    def submit() -> None:
        err = gem.store(bo, 0xC0FFEE)
        assert err in (0, -errno.EFAULT), f"execbuf: {err}"

    _spawn(submit, "execbuf")
    _spawn(lambda: gem.proc.munmap(ptr, PAGE), "munmap")
    explore.join_all()
    gem.close(bo)


@scenario("map-fixed-invalidate", preemptions=2, pct_schedules=10_000, pct_depth=3)
def map_fixed_invalidate(m: Machine) -> None:
    """gem_userptr_blits map-fixed-invalidate: mmap(MAP_FIXED) over a userptr in use; a
    submission whose sequence check ran after the invalidation must write the new page."""
    gem = Gem(m.spawn("fixed"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    gem.proc.write(ptr, b"\x11" * 4)
    bo = gem.userptr(ptr, PAGE)
    events: list[str] = []
    snap: list[int] = [0]
    unsub = trace.subscribe(lambda ev: events.append(ev.name)
                            if ev.category == "userptr" and ev.name == "invalidate" else None)

    def before_done(*_: object) -> None:
        snap[0] = len(events)       # invalidations seen before this attempt's submit_done

    m.device.faults.set_hook("execbuf.before_submit_done", before_done)
    try:
        out: list[int] = []
        _spawn(lambda: out.append(gem.store(bo, 0xAB)), "execbuf")
        _spawn(lambda: gem.proc.mmap(ptr, PAGE, RW, ANON | MAP_FIXED), "map-fixed")
        explore.join_all()
        if out == [0] and snap[0] > 0:
            got = int.from_bytes(gem.proc.read(ptr, 4), "little")
            assert got == 0xAB, f"GPU write went to the old page (read {got:#x})"
    finally:
        unsub()
        m.device.faults.set_hook("execbuf.before_submit_done", None)
    gem.close(bo)


@scenario("stress-mm", preemptions=2, pct_schedules=10_000, pct_depth=3)
def stress_mm(m: Machine) -> None:
    """gem_userptr_blits stress-mm: userptr create/use/close against mmap/munmap churn."""
    gem = Gem(m.spawn("stress"))

    def user() -> None:
        ptr = gem.proc.mmap(0, PAGE, RW, ANON)
        bo = gem.userptr(ptr, PAGE)
        igt.gem_set_domain(gem.proc, gem.fd, bo, uapi.I915_GEM_DOMAIN_CPU, 0)
        gem.close(bo)
        gem.proc.munmap(ptr, PAGE)

    def churn() -> None:
        p = gem.proc.mmap(0, 2 * PAGE, RW, ANON)
        gem.proc.munmap(p, 2 * PAGE)

    _spawn(user, "userptr")
    _spawn(churn, "mm")


@scenario("stress-mm-invalidate-close", preemptions=2, pct_schedules=10_000, pct_depth=3)
def stress_mm_invalidate_close(m: Machine) -> None:
    """gem_userptr_blits stress-mm-invalidate-close: close a userptr while its range is
    invalidated."""
    gem = Gem(m.spawn("inval-close"))
    ptr = gem.proc.mmap(0, 2 * PAGE, RW, ANON)
    bo = gem.userptr(ptr, 2 * PAGE)
    _spawn(lambda: gem.close(bo), "close")
    _spawn(lambda: gem.proc.munmap(ptr, 2 * PAGE), "munmap")


@scenario("stress-mm-invalidate-close-overlap", preemptions=2, pct_schedules=10_000,
          pct_depth=3)
def stress_mm_invalidate_close_overlap(m: Machine) -> None:
    """gem_userptr_blits stress-mm-invalidate-close-overlap: two overlapping userptrs, one
    closed while the shared range is invalidated."""
    gem = Gem(m.spawn("inval-close-overlap"))
    ptr = gem.proc.mmap(0, 3 * PAGE, RW, ANON)
    a = gem.userptr(ptr, 2 * PAGE)
    b = gem.userptr(ptr + PAGE, 2 * PAGE)
    _spawn(lambda: gem.close(a), "close")
    _spawn(lambda: gem.proc.munmap(ptr + PAGE, PAGE), "munmap")
    explore.join_all()
    gem.close(b)


@scenario("process-exit-busy", preemptions=2, pct_schedules=10_000, pct_depth=3)
def process_exit_busy(m: Machine) -> None:
    """gem_userptr_blits process-exit-busy: the process exits with a userptr write queued."""
    proc = m.spawn("exit-busy")
    gem = Gem(proc)
    ptr = proc.mmap(0, PAGE, RW, ANON)
    bo = gem.userptr(ptr, PAGE)
    _spawn(_racing_exit(lambda: gem.store(bo, 1, wait=False)), "execbuf")
    _spawn(lambda: proc.exit(0), "exit")


@scenario("sync-unmap-cycles", preemptions=2, pct_schedules=10_000, pct_depth=3)
def sync_unmap_cycles(m: Machine) -> None:
    """gem_userptr_blits sync-unmap-cycles: submit, munmap and wait in a cycle with a
    remapper."""
    gem = Gem(m.spawn("cycles"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    bo = gem.userptr(ptr, PAGE)

    def cycle() -> None:
        for v in (1, 2):
            err = gem.store(bo, v)
            assert err in (0, -errno.EFAULT), f"execbuf: {err}"

    def remap() -> None:
        gem.proc.munmap(ptr, PAGE)
        gem.proc.mmap(ptr, PAGE, RW, ANON | MAP_FIXED)

    _spawn(cycle, "execbuf")
    _spawn(remap, "remap")
    explore.join_all()
    gem.close(bo)


@scenario("mmap-offset-close-race", preemptions=2, pct_schedules=10_000, pct_depth=3)
def mmap_offset_close_race(m: Machine) -> None:
    """gem_mmap_offset close-race: close the handle while another thread faults its mapping."""
    gem = Gem(m.spawn("close-race"))
    bo = gem.create(PAGE)
    addr = igt.gem_mmap__wb(gem.proc, gem.fd, bo, PAGE)

    def touch() -> None:
        gem.proc.write(addr, b"x")
        gem.proc.munmap(addr, PAGE)

    _spawn(touch, "fault")
    _spawn(lambda: gem.close(bo), "close")


@scenario("fork-vs-validate", preemptions=2, pct_schedules=10_000, pct_depth=3)
def fork_vs_validate(m: Machine) -> None:
    """fork (COW-protecting the parent's pages) racing SET_DOMAIN's userptr validation."""
    proc = m.spawn("forker")
    gem = Gem(proc)
    ptr = proc.mmap(0, PAGE, RW, ANON)
    proc.write(ptr, b"p")
    bo = gem.userptr(ptr, PAGE)
    kids = []
    _spawn(lambda: igt.gem_set_domain(proc, gem.fd, bo, uapi.I915_GEM_DOMAIN_CPU, 0),
           "validate")
    _spawn(lambda: kids.append(proc.fork()), "fork")
    explore.join_all()
    for k in kids:
        k.exit(0)
    gem.close(bo)


@scenario("mremap-vs-execbuf", preemptions=2, pct_schedules=10_000, pct_depth=3)
def mremap_vs_execbuf(m: Machine) -> None:
    """mremap moving a userptr's memory while a submission uses it."""
    gem = Gem(m.spawn("mremap"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    far = gem.proc.mmap(0, PAGE, RW, ANON)
    bo = gem.userptr(ptr, PAGE)

    def submit() -> None:
        err = gem.store(bo, 7)
        assert err in (0, -errno.EFAULT), f"execbuf: {err}"

    _spawn(submit, "execbuf")
    _spawn(lambda: gem.proc.mremap(ptr, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, far),
           "mremap")
    explore.join_all()
    gem.close(bo)


@scenario("exit-with-gpu-work", preemptions=2, pct_schedules=10_000, pct_depth=3)
def exit_with_gpu_work(m: Machine) -> None:
    """A process exits (files closed, address space torn down) while its GPU work runs."""
    proc = m.spawn("exiting")
    gem = Gem(proc)
    bo = gem.create(PAGE)
    ptr = proc.mmap(0, PAGE, RW, ANON)
    up = gem.userptr(ptr, PAGE)
    _spawn(_racing_exit(lambda: (gem.store(bo, 3, wait=False), gem.store(up, 4, wait=False))),
           "execbuf")
    _spawn(lambda: proc.exit(0), "exit")


@scenario("invalidate-vs-busy-revalidate", preemptions=2, pct_schedules=10_000, pct_depth=3)
def invalidate_vs_busy_revalidate(m: Machine) -> None:
    """Two invalidations of a userptr with GPU work queued, while a second submission
    revalidates it (unbinding, so waiting for that work, under the object lock)."""
    gem = Gem(m.spawn("busy-reval"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    bo = gem.userptr(ptr, PAGE)

    def submit() -> None:
        for v, wait in ((1, False), (2, True)):
            err = gem.store(bo, v, wait=wait)
            assert err in (0, -errno.EFAULT), f"execbuf: {err}"

    def invalidate() -> None:
        for _ in range(2):
            gem.proc.madvise(ptr, PAGE, MADV_DONTNEED)

    _spawn(submit, "execbuf")
    _spawn(invalidate, "madvise")
    explore.join_all()
    gem.close(bo)
