"""The history rows of the mmap_offset designs (seed 002, issue 11): the two review points of
the 2019 multi-mmap-offset series as first posted (``mmap-v1``) against the merged design.

Both scenarios run on machines built with ``Machine(mmap_design=NAME)``
(:mod:`softgem.gem.mmap_designs`); the rows say so with ``seam="mmap"``.  A ``data-race``
verdict comes from :func:`watch_data_races`, the KCSAN-like checker these scenarios attach:
the mmap-v1 offset list reports a writer that runs while another task walks the list
without the writers' lock (docs/history-mmap.md).
"""

from __future__ import annotations

from collections.abc import Callable

from .. import explore, igt, uapi
from ..gem import revoke_all_gtt_mmaps
from ..machine import Machine
from ..posix import MAP_SHARED
from .gem import RW, Gem
from .history_row import HistoryRow

__all__ = ["FNS_MMAP", "ROWS_MMAP", "mmap_vs_gem_close", "reset_revoke_vs_gem_close",
           "reset_revoke_vs_mmap_offset", "watch_data_races"]

PAGE = 4096


def watch_data_races() -> None:
    """Fail the running schedule with ``data-race`` when the core reports one.

    The report comes from inside a system call (the writer's ioctl), whose handler would turn
    an exception into a SimBug: the failure is recorded on the execution directly instead.
    """
    ex = explore.current_execution()

    def seen(kind: str, obj: object, detail: object) -> None:
        if kind == "data-race":
            ex.fail("data-race", str(detail))

    ex.observers.append(seen)


def mmap_vs_gem_close(m: Machine) -> None:
    """mmap(fd, offset of A) racing GEM_CLOSE(A) (the review's gem_mmap_gtt/close-race)."""
    watch_data_races()
    gem = Gem(m.spawn("close-race"))
    bo = gem.create(PAGE)
    off = igt.gem_mmap_offset(gem.proc, gem.fd, bo, uapi.I915_MMAP_OFFSET_GTT)

    def map_and_touch() -> None:
        try:
            addr = gem.proc.mmap(0, PAGE, RW, MAP_SHARED, gem.fd, off)
        except OSError:
            return              # EINVAL / EACCES: GEM_CLOSE won, nothing to map
        gem.proc.write(addr, b"x")
        gem.proc.munmap(addr, PAGE)

    explore.spawn(map_and_touch, "mmap")
    explore.spawn(lambda: gem.close(bo), "gem_close")
    explore.join_all()


def reset_revoke_vs_mmap_offset(m: Machine) -> None:
    """The reset's revocation of GTT mmaps (``revoke_mmaps``) racing MMAP_OFFSET creating a
    new offset of the same object."""
    watch_data_races()
    gem = Gem(m.spawn("reset-race"))
    bo = gem.create(PAGE)
    addr = igt.gem_mmap__gtt(gem.proc, gem.fd, bo, PAGE)
    gem.proc.write(addr, b"x")          # a GTT fault: the view is now revoked on reset
    # What gpu/hang.reset runs after a hang, here in its own thread (the reset worker).
    explore.spawn(lambda: revoke_all_gtt_mmaps(m.device), "reset")
    explore.spawn(lambda: igt.gem_mmap_offset(gem.proc, gem.fd, bo, uapi.I915_MMAP_OFFSET_WB),
                  "mmap_offset")
    explore.join_all()
    gem.proc.munmap(addr, PAGE)
    gem.close(bo)


def reset_revoke_vs_gem_close(m: Machine) -> None:
    """The reset's revocation of GTT mmaps racing GEM_CLOSE of an object asked twice for a
    GTT offset (mapped through the first): no race report, to see what the walk then reads."""
    gem = Gem(m.spawn("reset-close"))
    bo = gem.create(PAGE)
    addr = igt.gem_mmap__gtt(gem.proc, gem.fd, bo, PAGE)
    gem.proc.write(addr, b"x")
    igt.gem_mmap_offset(gem.proc, gem.fd, bo, uapi.I915_MMAP_OFFSET_GTT)   # asked again
    explore.spawn(lambda: revoke_all_gtt_mmaps(m.device), "reset")
    explore.spawn(lambda: gem.close(bo), "gem_close")
    explore.join_all()
    gem.proc.munmap(addr, PAGE)


FNS_MMAP: dict[str, Callable[[Machine], object]] = {
    "mmap-vs-gem-close": mmap_vs_gem_close,
    "reset-revoke-vs-mmap-offset": reset_revoke_vs_mmap_offset,
    "reset-revoke-vs-gem-close": reset_revoke_vs_gem_close,
}

ROWS_MMAP: list[HistoryRow] = [
    HistoryRow("002", "review: mmap vs gem_close", "mmap-v1", "merged", "mmap-vs-gem-close",
               "pct", 60, "use-after-free", 2,
               "i915_gem_mmap checks the allow list and takes the offset's reference after "
               "dropping the lookup lock: GEM_CLOSE frees the offset in between",
               seam="mmap"),
    HistoryRow("002", "review: revoke on reset", "mmap-v1", "merged",
               "reset-revoke-vs-mmap-offset", "pct", 60, "data-race", 2,
               "the reset walks the object's mmap_offsets list without mmo_lock while "
               "MMAP_OFFSET adds to it", seam="mmap"),
    HistoryRow("002", "review: revoke on reset (vs GEM_CLOSE)", "mmap-v1", "merged",
               "reset-revoke-vs-gem-close", "pct", 100, "use-after-free", 2,
               "the unlocked walk stands on an offset GEM_CLOSE unlinks and frees, then loads "
               "its next pointer", seam="mmap"),
]
