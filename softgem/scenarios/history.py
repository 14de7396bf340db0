"""The history rows: scenarios that show a bug of one userptr design and its absence in the
design that fixed it (issue 11; docs/history.md is generated from :data:`ROWS`).

Each :class:`HistoryRow` names the seed review point or commit, the design that had the bug,
the scenario (run on a machine built with that design), the strategy, the schedule budget it
is found within, the checker verdict expected, and the fixed design (clean within the same
budget).  Scenarios here are not in the catalog: they only mean something per design.

A "long batch" is an execbuf whose request waits for an in-fence that a model thread
(``gpu-batch``) signals after :data:`BATCH_S` seconds of the explorer's virtual clock, so its
fence stays in the userptr's reservation that long, as a batch that runs for that time would.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from .. import explore, uapi
from ..errors import EAGAIN
from ..gpu import sync_file_create
from ..machine import Machine
from ..mm import NotifierRange, NotifyEvent, invalidate_range_end, invalidate_range_start
from ..sync import Fence, clock, task
from . import catalog
from .gem import ANON, RW, Gem
from .history_2014 import FNS_2014, MAX_STEPS_2014, ROWS_2014
from .history_mmap import FNS_MMAP, ROWS_MMAP
from .history_row import HistoryRow
from .registry import Scenario

__all__ = ["BATCH_S", "MUNMAP_LATENCY", "ROWS", "HistoryRow", "row_scenario"]

PAGE = 4096
BATCH_S = 0.010          # the long batch: 10 ms of virtual time
#: design name -> the last munmap latency (virtual seconds) munmap-vs-long-batch measured
MUNMAP_LATENCY: dict[str, float] = {}


class _FencedGem(Gem):
    """Gem whose next EXECBUFFER2 waits for ``in_fence_fd`` (I915_EXEC_FENCE_IN)."""

    in_fence_fd: int | None = None

    def _ioctl(self, request: int, arg: ctypes.Structure, retry: bool) -> int:
        if request == uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2 and self.in_fence_fd is not None:
            arg.flags |= uapi.I915_EXEC_FENCE_IN
            arg.rsvd2 = self.in_fence_fd
        return super()._ioctl(request, arg, retry)


def _long_batch(gem: _FencedGem, bo: int) -> Callable[[], None]:
    """Queue a write to ``bo`` behind a gate; returns the ``gpu-batch`` thread's body."""
    gate = Fence("long batch gate")
    fd = gem.proc.fd_install(sync_file_create(gate))
    gem.in_fence_fd = fd
    try:
        err = gem.store(bo, 0x5A, wait=False)
    finally:
        gem.in_fence_fd = None
        gem.proc.close(fd)
    assert err == 0, f"execbuf of the long batch: {err}"

    def run() -> None:
        task.sleep("gpu.batch", BATCH_S)
        gate.signal()
    return run


def munmap_vs_long_batch(m: Machine) -> None:
    """munmap of a userptr while a long batch writes it: how long does munmap take?"""
    gem = _FencedGem(m.spawn("latency"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    bo = gem.userptr(ptr, PAGE)
    batch = _long_batch(gem, bo)
    took: list[float] = []

    def unmap() -> None:
        t0 = clock.monotonic()
        gem.proc.munmap(ptr, PAGE)
        took.append(clock.monotonic() - t0)

    explore.spawn(unmap, "munmap")
    explore.spawn(batch, "gpu-batch")
    explore.join_all()
    gem.close(bo)
    if took:
        MUNMAP_LATENCY[m.device.userptr_design.name] = took[0]
    if took and took[0] >= BATCH_S / 2:
        explore.fail("munmap-waits-for-gpu",
                     f"munmap took {took[0] * 1e3:.1f} ms of virtual time: the notifier "
                     f"callback waited for the {BATCH_S * 1e3:.0f} ms batch on the userptr")


def exit_with_long_batch(m: Machine) -> None:
    """A process exits while a long batch writes one of its userptrs: how long does the
    teardown of its address space (exit_mmap, the first step of exit) take?"""
    proc = m.spawn("exiting")
    gem = _FencedGem(proc)
    ptr = proc.mmap(0, PAGE, RW, ANON)
    bo = gem.userptr(ptr, PAGE)
    batch = _long_batch(gem, bo)
    took: list[float] = []

    def leave() -> None:
        t0 = clock.monotonic()
        proc.mm.exit_mmap()         # what exit does first (its own call then does nothing)
        took.append(clock.monotonic() - t0)
        proc.exit(0)

    explore.spawn(leave, "exit")
    explore.spawn(batch, "gpu-batch")
    explore.join_all()
    if took and took[0] >= BATCH_S / 2:
        explore.fail("exit-waits-for-gpu",
                     f"exit_mmap took {took[0] * 1e3:.1f} ms of virtual time: the notifier "
                     f"callback of the exiting task waited for its {BATCH_S * 1e3:.0f} ms batch")


def oom_reap_busy_userptr(m: Machine) -> None:
    """The OOM reaper (a non-blockable invalidation, mmap_lock for read) over a busy
    userptr's range."""
    gem = _FencedGem(m.spawn("oom-victim"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    bo = gem.userptr(ptr, PAGE)
    batch = _long_batch(gem, bo)
    out: list[str] = []

    def reap() -> None:
        mm = gem.proc.mm
        rng = NotifierRange(mm, ptr, ptr + PAGE, NotifyEvent.UNMAP, blockable=False)
        with mm.mmap_lock.read():
            try:
                invalidate_range_start(mm, rng)
            except EAGAIN:
                out.append("refused")
                return
            invalidate_range_end(mm, rng)
            out.append("reaped")

    explore.spawn(reap, "oom_reaper")
    explore.spawn(batch, "gpu-batch")
    explore.join_all()
    gem.close(bo)
    if out == ["refused"]:
        explore.fail("oom-reap-refused", "the userptr's notifier refused the OOM reaper's "
                     "non-blockable range (-EAGAIN): the victim's memory is not reaped")


ROWS: tuple[HistoryRow, ...] = (
    HistoryRow("004", "never block in the notifier (munmap latency)", "v5.14", "v6.8",
               "munmap-vs-long-batch", "pct", 5, "munmap-waits-for-gpu", 1,
               "munmap of a busy userptr returns only after the GPU work on it"),
    HistoryRow("004", "never block in the notifier (v5.13)", "v5.13", "v6.8",
               "munmap-vs-long-batch", "pct", 5, "munmap-waits-for-gpu", 1,
               "the same wait under v5.13's spinlock design"),
    HistoryRow("004", "non-blockable ranges (OOM reaper)", "v5.14", "v6.8",
               "oom-reap-busy-userptr", "pct", 5, "oom-reap-refused", 1,
               "the callback refuses a non-blockable range: -EAGAIN to the OOM reaper"),
    HistoryRow("003", "review: submit_done loop", "rework-v4", "v5.13",
               "map-fixed-invalidate", "pct", 60, "assertion", 2,
               "a userptr at index 0 invalidated during submission runs on stale pages"),
    HistoryRow("004", "rework v5: do not wait when the process is exiting", "rework-v4",
               "v5.13", "exit-with-long-batch", "pct", 5, "exit-waits-for-gpu", 1,
               "an exiting process waits in exit_mmap for its own GPU work (with a batch that "
               "never ends, gem_ctx_persistence.userptr: forever)"),
)

ROWS += tuple(ROWS_2014)

_FNS: dict[str, Callable[[Machine], object]] = {**FNS_2014,
    "munmap-vs-long-batch": munmap_vs_long_batch,
    "oom-reap-busy-userptr": oom_reap_busy_userptr,
    "exit-with-long-batch": exit_with_long_batch,
    "map-fixed-invalidate": catalog.map_fixed_invalidate,
    "stress-mm-invalidate-close": catalog.stress_mm_invalidate_close,
}
ROWS, _FNS = ROWS + tuple(ROWS_MMAP), {**_FNS, **FNS_MMAP}     # seed 002: history_mmap.py


def row_scenario(name: str, design: str, seam: str = "userptr") -> Scenario:
    """Scenario ``name`` on machines built with userptr design ``design`` (a fresh design per
    machine), or ``v6.8+BUG``: over the explorer's planted-bug design ``BUG``; ``seam="mmap"``:
    with mmap_offset design ``design`` (``Machine(mmap_design=...)``)."""
    fn = _FNS.get(name)
    if fn is None:
        raise KeyError(f"unknown history scenario {name!r}; known: {', '.join(sorted(_FNS))}")
    doc = (fn.__doc__ or "").strip().splitlines()
    base, plus, bug = design.partition("+")
    if plus:
        from .planted import PlantedUserptr

        if base != "v6.8":
            raise ValueError(f"planted bugs are planted in v6.8, not {base!r}")
        return Scenario(f"{name}@{design}", fn, doc=doc[0] if doc else "",
                        userptr_ops=PlantedUserptr(bug))
    return Scenario(f"{name}@{design}", fn, doc=doc[0] if doc else "",
                    max_steps=MAX_STEPS_2014.get(name, 200_000),
                    machine_options={f"{seam}_design": design})


from .history_late import FNS_LATE, ROWS_LATE  # noqa: E402  (seeds 003/004)

ROWS, _FNS = ROWS + tuple(ROWS_LATE), {**_FNS, **FNS_LATE}
