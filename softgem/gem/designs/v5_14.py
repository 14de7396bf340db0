"""v5.14: the notifier callback waits for the object's GPU work.

From the v5.14 ``gem/i915_gem_userptr.c`` (the rwlock commit "Use an rwlock instead of
spinlock for the global notifier lock" on top of the v5.13 rework):

* the callback refuses a range that may not block (``mmu_notifier_range_blockable``): it
  returns false, which the notifier core turns into -EAGAIN for the OOM reaper;
* it takes ``i915->mm.notifier_lock`` for write around ``mmu_interval_set_seq``;
* unless the current task is exiting (``PF_EXITING``: here, the address space being torn
  down), it then waits, without a timeout, for every fence of the object's reservation
  (``dma_resv_wait_timeout``, bookkeep usage): munmap of a busy userptr takes as long as the
  GPU work on it;
* execbuf's final submit_done loop runs under the lock for read;
* get_pages truncates the page count to the scatterlist's 32 bits, with no E2BIG (until v6.3:
  :mod:`.sg_trunc`).

submit_init is the same as v6.8's in this model (v5.14 already installed the page vector under
the object lock and let get_pages hold the page reference).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ... import trace
from ...notifier import MmuIntervalNotifier, mmu_interval_set_seq
from ...sync import RwLock
from ..resv import Usage
from . import register
from .sg_trunc import TruncatingUserptrOps
from .v6_8 import V6_8

if TYPE_CHECKING:
    from ...mm import NotifierRange
    from ..object import GemObject

__all__ = ["WaitingNotifierOps", "V5_14"]


class WaitingNotifierOps:
    """``i915_gem_userptr_invalidate`` of v5.13/v5.14."""

    __slots__ = ("design", "obj")

    def __init__(self, design: V5_14, obj: GemObject) -> None:
        self.design = design
        self.obj = obj       # the notifier is removed before the object is freed

    def invalidate(self, sub: MmuIntervalNotifier, rng: NotifierRange, cur_seq: int) -> bool:
        if not rng.blockable:
            if trace.enabled:
                trace.emit("userptr", "refused", obj=self.obj.id, start=rng.start, end=rng.end)
            return False
        with self.design.notifier_write():
            mmu_interval_set_seq(sub, cur_seq)
        if trace.enabled:
            trace.emit("userptr", "invalidate", obj=self.obj.id, start=rng.start, end=rng.end,
                       event=rng.event.name, seq=cur_seq)
        if self.design.skip_wait_on_exit and getattr(rng.mm, "exited", False):
            return True             # the task is exiting: its objects go away anyway
        self.obj.resv.wait(Usage.BOOKKEEP)
        return True


class V5_14(V6_8):
    name = "v5.14"
    skip_wait_on_exit = True        # PF_EXITING: added in v5 of the rework series

    def __init__(self) -> None:
        super().__init__(TruncatingUserptrOps())     # the page count truncation: pre-v6.3
        self.notifier_lock = RwLock("i915.mm.notifier_lock")

    @contextmanager
    def notifier_write(self) -> Iterator[None]:
        self.notifier_lock.write_lock()
        try:
            yield
        finally:
            self.notifier_lock.write_unlock()

    @contextmanager
    def notifier_read(self) -> Iterator[None]:
        self.notifier_lock.read_lock()
        try:
            yield
        finally:
            self.notifier_lock.read_unlock()

    def notifier_ops(self, obj: GemObject) -> Any:
        return WaitingNotifierOps(self, obj)

    def submit_done_all(self, objs: Sequence[GemObject]) -> None:
        with self.notifier_read():
            super().submit_done_all(objs)


register("v5.14", V5_14)
