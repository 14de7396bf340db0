"""The 2014-2015 history rows (seed 000, seed 001): bugs of the ``v3.16`` userptr design found
by the explorer, and their absence in ``v4.4`` (or, for v4.4's own window, in v5.13).

The scenarios are plain functions of a machine; :data:`FNS_2014` names them for
:func:`softgem.scenarios.history.row_scenario`, :data:`ROWS_2014` are the rows.
docs/history-2014.md describes how the two designs are modelled.
"""

from __future__ import annotations

import ctypes
import errno
from collections.abc import Callable

from .. import explore, igt, trace, uapi
from ..machine import Machine
from ..posix import MADV_DONTNEED, MAP_FIXED, MAP_SHARED
from ..sync import Completion, task
from . import catalog
from .gem import ANON, RW, Gem
from .history_2014_signals import creation_under_a_signal_timer, interrupted_first_registration
from .history_row import HistoryRow

__all__ = ["FNS_2014", "MAX_STEPS_2014", "ROWS_2014"]

PAGE = 4096


def _quiesce(m: Machine, gem: Gem) -> None:
    """Close the DRM fd (its file's GPU work finishes, its objects go) and wait for the
    design's workers to let go of theirs, so that no object is freed after the process
    exits (a v3.16 userptr freed then would be its address space's last user: that is
    ad46cb533d's row, not this one's)."""
    gem.proc.close(gem.fd)
    for _ in range(1000):
        if not m.device.nr_objects:
            return
        task.sleep("quiescent", 1e-4)
    raise AssertionError(f"{m.device.nr_objects} object(s) never freed")


def _create(gem: Gem, ptr: int, size: int) -> int:
    """GEM_USERPTR as drmIoctl calls it: 0 (the handle is closed again) or -errno."""
    try:
        handle = gem.userptr(ptr, size)
    except OSError as e:
        return -(e.errno or errno.EIO)
    gem.close(handle)
    return 0


def invalidate_before_first_attach(m: Machine) -> None:
    """The first userptr of an address space is created while another thread of the same
    process unmaps an unrelated range: the range invalidation can run between the per-mm
    notifier's registration and the insertion of the object."""
    gem = Gem(m.spawn("first-userptr"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    other = gem.proc.mmap(0, PAGE, RW, ANON)
    out: list[int] = []
    explore.spawn(lambda: out.append(_create(gem, ptr, PAGE)), "create")
    explore.spawn(lambda: gem.proc.munmap(other, PAGE), "munmap")
    explore.join_all()
    assert out == [0], f"userptr creation: {out}"


def free_coalesced_userptr(m: Machine) -> None:
    """A userptr over two physically contiguous pages (one scatterlist entry) gets its
    pages, then is closed: every page reference must be given back."""
    gem = Gem(m.spawn("coalesced"))
    ptr = gem.proc.mmap(0, 2 * PAGE, RW, ANON)
    gem.proc.write(ptr, b"\x01" * (2 * PAGE))     # two frames, allocated in order
    bo = gem.userptr(ptr, 2 * PAGE)
    explore.spawn(lambda: gem.store(bo, 0x5A), "execbuf")
    explore.join_all()
    gem.close(bo)
    gem.proc.munmap(ptr, 2 * PAGE)


def overlapping_userptrs(m: Machine) -> None:
    """Two userptrs over overlapping ranges (xserver's MIT-SHM pixmaps), then the shared
    page is unmapped while the second one is used."""
    gem = Gem(m.spawn("overlap"))
    ptr = gem.proc.mmap(0, 3 * PAGE, RW, ANON)
    a = gem.userptr(ptr, 2 * PAGE)
    try:
        b = gem.userptr(ptr + PAGE, 2 * PAGE)
    except OSError as e:
        gem.close(a)
        raise AssertionError(f"overlapping userptr refused: {errno.errorcode.get(e.errno or 0, e.errno)}") \
            from None
    explore.spawn(lambda: gem.store(b, 0x5A), "execbuf")
    explore.spawn(lambda: gem.proc.munmap(ptr + PAGE, PAGE), "munmap")
    explore.join_all()
    gem.close(a)
    gem.close(b)


def userptr_over_4gib(m: Machine) -> None:
    """A userptr of 4 GiB + 4 KiB (48-bit PPGTT can bind it), created and closed."""
    gem = Gem(m.spawn("big"))
    size = (4 << 30) + PAGE
    ptr = gem.proc.mmap(0, size, RW, ANON)
    out: list[int] = []
    explore.spawn(lambda: out.append(_create(gem, ptr, size)), "create")
    explore.join_all()
    gem.proc.munmap(ptr, size)
    assert out == [0], f"userptr of {size:#x} bytes: {errno.errorcode.get(-out[0], out[0])}"


def map_fixed_gtt_over_userptr(m: Machine) -> None:
    """gem_userptr_blits map-fixed-invalidate*: a GTT mmap of another object placed with
    MAP_FIXED over a userptr's range, faulted in, then revoked by SET_TILING: the revoke's
    zap is an invalidation of the userptr's range."""
    gem = Gem(m.spawn("alias"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    gem.proc.write(ptr, b"\x11" * 4)
    u = gem.userptr(ptr, PAGE)
    assert gem.store(u, 0xAB) == 0
    bo = gem.create(PAGE)
    off = igt.gem_mmap_offset(gem.proc, gem.fd, bo, uapi.I915_MMAP_OFFSET_GTT)
    gem.proc.mmap(ptr, PAGE, RW, MAP_SHARED | MAP_FIXED, gem.fd, off)
    gem.proc.write(ptr, b"\x22" * 4)              # the GTT fault maps bo at ptr
    explore.spawn(lambda: igt.gem_set_tiling(gem.proc, gem.fd, bo, uapi.I915_TILING_X, 512),
                  "set-tiling")
    explore.join_all()
    gem.proc.munmap(ptr, PAGE)
    gem.close(bo)
    gem.close(u)


def reuse_range_while_worker_runs(m: Machine) -> None:
    """A userptr is used once (execbuf answers EAGAIN: its get_pages worker is queued),
    closed, and a fresh userptr is created over the same range at once: the old object stays
    in the notifier's tree while the worker holds it."""
    gem = Gem(m.spawn("reuse"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    old = gem.userptr(ptr, PAGE)
    out: list[int] = []

    def reuse() -> None:
        err = gem.store(old, 0x5A, retry=False)
        assert err in (0, -errno.EAGAIN), f"execbuf: {err}"
        gem.close(old)
        out.append(_create(gem, ptr, PAGE))

    explore.spawn(reuse, "reuse")
    explore.join_all()
    assert out == [0], f"a fresh userptr over a closed one's range: " \
        f"{errno.errorcode.get(-out[0], out[0])}"


class _ContextGem(Gem):
    """Gem whose EXECBUFFER2 runs in context ``ctx_id`` (its own PPGTT)."""

    ctx_id = 0

    def _ioctl(self, request: int, arg: ctypes.Structure, retry: bool) -> int:
        if request == uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2:
            arg.rsvd1 = self.ctx_id
        return super()._ioctl(request, arg, retry)


def userptr_in_two_address_spaces(m: Machine) -> None:
    """One userptr written from two contexts, each with its own GPU address space, at the
    same time: two vmas of one object; then it is closed."""
    gem = _ContextGem(m.spawn("two-vms"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    gem.proc.write(ptr, b"\x01")
    bo = gem.userptr(ptr, PAGE)
    ctx = uapi.drm_i915_gem_context_create()
    gem.proc.ioctl(gem.fd, uapi.DRM_IOCTL_I915_GEM_CONTEXT_CREATE, ctx)
    other = _ContextGem(gem.proc)
    other.fd, other.ctx_id = gem.fd, int(ctx.ctx_id)
    explore.spawn(lambda: gem.store(bo, 0x11), "execbuf-ctx0")
    explore.spawn(lambda: other.store(bo, 0x22), f"execbuf-ctx{ctx.ctx_id}")
    explore.join_all()
    gem.proc.ioctl(gem.fd, uapi.DRM_IOCTL_I915_GEM_CONTEXT_DESTROY,
                   uapi.drm_i915_gem_context_destroy(ctx_id=ctx.ctx_id))
    gem.close(bo)


def invalidate_during_get_pages_worker(m: Machine) -> None:
    """A submission waits for the get_pages worker of a userptr (EAGAIN, restart) while its
    range is invalidated once (MADV_DONTNEED, sent once the worker is queued): one lookup
    of the pages (get_user_pages, by a worker or the fast path), plus at most one more for
    the invalidation, should be enough."""
    gem = Gem(m.spawn("lookups"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    bo = gem.userptr(ptr, PAGE)
    queued = Completion("first worker queued")
    seen = {"worker": 0, "invalidate": 0, "gup": 0}

    def count(ev: trace.Event) -> None:
        if ev.category == "userptr" and ev.name in seen:
            seen[ev.name] += 1
            if ev.name == "worker":
                queued.complete_all()

    def invalidate() -> None:
        queued.wait()
        gem.proc.madvise(ptr, PAGE, MADV_DONTNEED)

    unsub = trace.subscribe(count)
    try:
        explore.spawn(lambda: gem.store(bo, 0x5A), "execbuf")
        explore.spawn(invalidate, "madvise")
        explore.join_all()
    finally:
        unsub()
    gem.close(bo)
    _quiesce(m, gem)
    assert seen["gup"] <= seen["invalidate"] + 1, (
        f"{seen['gup']} lookups of the pages ({seen['worker']} workers) for "
        f"{seen['invalidate']} invalidation(s): a superseded worker cleared the current "
        "worker's pointer")


def gtt_mmap_of_userptr_at_exit(m: Machine) -> None:
    """A process GTT-mmaps one of its userptrs and exits: its address space, its mapping
    and the object must all go."""
    proc = m.spawn("gtt-userptr")
    gem = Gem(proc)
    ptr = proc.mmap(0, PAGE, RW, ANON)
    bo = gem.userptr(ptr, PAGE)
    off = igt.gem_mmap_offset(proc, gem.fd, bo, uapi.I915_MMAP_OFFSET_GTT)
    proc.mmap(0, PAGE, RW, MAP_SHARED, gem.fd, off)
    explore.spawn(lambda: proc.exit(0), "exit")


FNS_2014: dict[str, Callable[[Machine], object]] = {
    "invalidate-before-first-attach": invalidate_before_first_attach,
    "free-coalesced-userptr": free_coalesced_userptr,
    "overlapping-userptrs": overlapping_userptrs,
    "userptr-over-4gib": userptr_over_4gib,
    "map-fixed-gtt-over-userptr": map_fixed_gtt_over_userptr,
    "reuse-range-while-worker-runs": reuse_range_while_worker_runs,
    "interrupted-first-registration": interrupted_first_registration,
    "creation-under-a-signal-timer": creation_under_a_signal_timer,
    "userptr-in-two-address-spaces": userptr_in_two_address_spaces,
    "invalidate-during-get-pages-worker": invalidate_during_get_pages_worker,
    "process-exit-busy": catalog.process_exit_busy,
    "gtt-mmap-of-userptr-at-exit": gtt_mmap_of_userptr_at_exit,
}

#: The explorer's step budget (its livelock checker) for scenarios that need a smaller one.
MAX_STEPS_2014 = {"creation-under-a-signal-timer": 10_000}

ROWS_2014: list[HistoryRow] = [
    HistoryRow("000", "460822b0b1 use-after-free in invalidate_range_start", "v3.16", "v4.4",
               "stress-mm-invalidate-close", "pct", 150, "use-after-free", 2,
               "the callback takes a reference on an object whose last one is gone and uses "
               "it after struct_mutex, once the release finished"),
    HistoryRow("000", "380996aab5 cancel userptr from a task (the wait)", "v3.16", "v4.4",
               "munmap-vs-long-batch", "pct", 5, "munmap-waits-for-gpu", 1,
               "the callback takes struct_mutex and unbinds, waiting for the GPU work"),
    HistoryRow("000", "380996aab5 cancel userptr from a task (the window)", "v4.4", "v5.13",
               "map-fixed-invalidate", "pct", 60, "assertion", 2,
               "until the cancel worker runs, fresh GPU work still writes the old pages"),
    HistoryRow("000", "e4b946bfe1 deadlock with aliased GTT mmaps", "v3.16", "v4.4",
               "map-fixed-gtt-over-userptr", "pct", 5, "bug", 1,
               "SET_TILING revokes a GTT mmap aliasing a userptr under struct_mutex: the "
               "callback takes struct_mutex again"),
    HistoryRow("001", "v16/v17 of the original patch: fresh allocation of the same range",
               "userptr-v16", "v3.16", "reuse-range-while-worker-runs", "pct", 100,
               "assertion", 2,
               "a closed userptr kept alive by its get_pages worker refuses a fresh one over "
               "its range (EINVAL); v17 returns EAGAIN until the worker lets go"),
    HistoryRow("000", "e9681366ea error pointer stored for a failed registration",
               "v3.17-rc", "v4.4", "interrupted-first-registration", "pct", 20, "bug", 2,
               "a registration interrupted by a signal leaves its error as the mm's notifier: "
               "the release worker unregisters the error pointer"),
    HistoryRow("000", "281400ff0f uninterruptible mutex at creation", "v3.16", "v4.4",
               "creation-under-a-signal-timer", "pct", 5, "livelock", 2,
               "the signal that fired during the slow registration is pending when the "
               "interruptible struct_mutex is contended: EINTR, restart, forever"),
    HistoryRow("000", "e227330223 leaking DMA mappings", "v3.16", "v4.4",
               "userptr-in-two-address-spaces", "pct", 5, "bug", 1,
               "each vma bind maps the pages again: the second context's mapping replaces the "
               "first in the table, which is never unmapped (DMA-API debug at free)"),
    HistoryRow("000", "68d6c84059 only update the current worker", "v3.16", "v4.4",
               "invalidate-during-get-pages-worker", "pct", 150, "assertion", 3,
               "a superseded get_pages worker clears the current worker's pointer, whose "
               "pages are then dropped: a third lookup"),
    HistoryRow("000", "ad46cb533d recursive deadlock releasing a busy userptr", "v3.16",
               "v4.4", "process-exit-busy", "pct", 5, "lockdep", 1,
               "the free of a userptr outliving its process (under struct_mutex) drops the "
               "address space's last user: exit_mmap runs under struct_mutex"),
    HistoryRow("000", "ad46cb533d (the GTT mmap of a userptr)", "v3.16", "v4.4",
               "gtt-mmap-of-userptr-at-exit", "pct", 5, "leak", 1,
               "the mapping holds the object, the object holds the address space's users: "
               "the process's mm is never torn down"),
    HistoryRow("000", "6c308fecb4 serial initialised to 1", "v3.16", "v4.4",
               "invalidate-before-first-attach", "pct", 100, "bug", 2,
               "an invalidation before the first object is added continues a NULL iterator"),
    HistoryRow("000", "c479f4383e page leak freeing coalesced userptrs", "v3.16", "v4.4",
               "free-coalesced-userptr", "pct", 5, "leak", 1,
               "put_pages releases one page per coalesced scatterlist entry"),
    HistoryRow("000", "ec8b0dd51c allow overlapping userptrs", "v3.16", "v4.4",
               "overlapping-userptrs", "pct", 5, "assertion", 1,
               "EINVAL for an overlapping userptr; after the fix the linear-list walk"),
    HistoryRow("000", "c6d576cc57 kill user_size limit", "v3.16", "v4.4",
               "userptr-over-4gib", "pct", 5, "assertion", 1,
               "E2BIG for a userptr larger than the 4 GiB GTT"),
]
