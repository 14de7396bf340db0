"""The v6.8 userptr design with switches that plant one bug each (see the package)."""

from __future__ import annotations

from typing import Any

from ... import trace
from ...errors import EFAULT
from ...gem import V6_8, GemObject
from ...gem import userptr as real
from ...mm import unpin_user_pages
from ...notifier import (
    MmuIntervalNotifier,
    mmu_interval_notifier_remove,
    mmu_interval_read_begin,
    mmu_interval_set_seq,
)
from ...sync import Workqueue

__all__ = ["BUGS", "PlantedUserptr"]

BUGS = ("no-read-retry", "no-seq-mark", "lock-in-notifier", "free-while-walked")


class _NotifierOps:
    """The callback, holding the object itself (the copy needs it for two of the bugs)."""

    def __init__(self, impl: PlantedUserptr, obj: GemObject) -> None:
        self.impl = impl
        self.obj = obj

    def invalidate(self, sub: MmuIntervalNotifier, rng: Any, cur_seq: int) -> bool:
        bug = self.impl.bug
        if bug == "free-while-walked":
            _ = self.obj.size           # the walk dereferences the object
        if bug == "lock-in-notifier":
            with self.obj.lock:
                mmu_interval_set_seq(sub, cur_seq)
        elif bug != "no-seq-mark":
            mmu_interval_set_seq(sub, cur_seq)
        if trace.enabled:
            trace.emit("userptr", "invalidate", obj=id(self.obj), seq=cur_seq)
        return True


class _Ops(real.UserptrOps):
    """The backing ops; only ``release`` differs (for free-while-walked)."""

    def __init__(self, impl: PlantedUserptr) -> None:
        self.impl = impl
        self.design = impl

    def release(self, obj: GemObject) -> None:
        st = real._state(obj)
        if self.impl.bug == "free-while-walked" and st.notifier.mm is not None:
            self.impl.defer_remove(st.notifier)     # the object is freed before the removal
            return
        super().release(obj)


class PlantedUserptr(V6_8):
    """A userptr design for a device (``dev.userptr_design``): v6.8 with ``bug`` planted."""

    def __init__(self, bug: str) -> None:
        if bug not in BUGS:
            raise ValueError(f"unknown planted bug {bug!r}; known: {BUGS}")
        self.bug = bug
        self.name = f"v6.8+{bug}"
        super().__init__(_Ops(self))
        self._wq: Workqueue | None = None

    def defer_remove(self, notifier: MmuIntervalNotifier) -> None:
        if self._wq is None:
            self._wq = Workqueue("userptr-release")
        self._wq.queue(lambda: mmu_interval_notifier_remove(notifier))

    def finish(self) -> None:
        if self._wq is not None:
            wq, self._wq = self._wq, None
            wq.destroy()

    def notifier_ops(self, obj: GemObject) -> Any:
        return _NotifierOps(self, obj)

    def submit_init(self, obj: GemObject, mm: Any) -> None:
        if self.bug != "no-read-retry":
            super().submit_init(obj, mm)
            return
        st = real._state(obj)
        if st.notifier.mm is not mm:
            raise EFAULT("userptr used from a foreign address space")
        seq = mmu_interval_read_begin(st.notifier)
        with obj.lock:
            if seq == st.notifier_seq and st.pvec is not None:
                return
            real._unbind_and_put(obj)
        pvec = real._pin_all(obj, st)
        with obj.lock:
            if st.page_ref:
                unpin_user_pages(obj.dev.phys, pvec, dirty=False)
                return
            st.pvec, st.notifier_seq, st.page_ref = pvec, seq, 1
            try:
                obj.get_pages_locked()
            finally:
                real._drop_ref(obj, st)

    def submit_done(self, obj: GemObject) -> None:
        if self.bug != "no-read-retry":
            super().submit_done(obj)
