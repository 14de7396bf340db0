"""The per-object state of a 2014-era userptr (``obj->userptr``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import SimBug

if TYPE_CHECKING:
    from ...units import Pfn
    from ..object import GemObject
    from .mmu_2014 import MmuObject

__all__ = ["EraState", "era_state"]


class EraState:
    """``obj->userptr`` of the era."""

    __slots__ = ("caller_mm", "dma_maps", "mm", "mm_users", "mmu_object", "ms", "ptr",
                 "queued", "ready", "work", "workers")

    def __init__(self, ptr: int, mm: Any) -> None:
        self.ptr = ptr
        self.mm = mm                      # the creator's address space
        self.mmu_object: MmuObject | None = None
        self.ms: Any = None               # v4.4: the i915_mm_struct of ``mm``
        self.work: object = None          # the active get_pages worker, an error, or None
        self.workers = 0                  # get_pages workers in flight (v3.16)
        self.ready: list[Pfn] | None = None   # pages a worker got, for the next get_pages
        self.caller_mm: Any = None        # current->mm of the get_pages in progress
        self.queued = False               # that get_pages queued the worker just now
        self.dma_maps = 0                 # live DMA mappings of the pages (DMA-API debug)
        self.mm_users = False             # v3.16: holds an mm_users reference (mmget)


def era_state(obj: GemObject) -> EraState:
    st = obj.private
    if not isinstance(st, EraState):
        raise SimBug(f"{obj!r} is not a 2014-era userptr")
    return st
