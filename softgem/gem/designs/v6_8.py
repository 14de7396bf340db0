"""v6.8: today's userptr path (the never-blocking notifier; see :mod:`softgem.gem.userptr`).

The base of every other design: they override the notifier callback (:meth:`V6_8.notifier_ops`),
the lock around execbuf's final check (:meth:`V6_8.submit_done_all`) or one step.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from ... import trace
from ...errors import EAGAIN, EFAULT
from ...mm import unpin_user_pages
from ...notifier import mmu_interval_read_begin, mmu_interval_read_retry
from .. import userptr as up
from . import register

if TYPE_CHECKING:
    from ..device import GemDevice
    from ..file import DrmFile
    from ..object import GemObject

__all__ = ["V6_8"]


class V6_8:
    """The userptr design of v6.8 (``i915_gem_userptr.c`` after commit "Never block for
    outstanding work on userptr object upon receipt of a mmu-notifier")."""

    name = "v6.8"

    def __init__(self, ops: up.UserptrOps | None = None) -> None:
        self.ops = ops if ops is not None else up.UserptrOps()
        self.ops.design = self

    # -- creation -------------------------------------------------------------------------
    def notifier_ops(self, obj: GemObject) -> Any:
        """The interval notifier callback object for a new userptr ``obj``."""
        return up.UserptrNotifierOps(obj.id)

    def userptr_create(self, dev: GemDevice, file: DrmFile, mm: Any, user_ptr: int,
                       user_size: int, flags: int) -> int:
        up.check_create_args(dev, mm, user_ptr, user_size, flags)
        return up.new_userptr(dev, file, mm, user_ptr, user_size, flags, self.ops,
                              self.notifier_ops)

    def is_userptr(self, obj: GemObject) -> bool:
        return isinstance(obj.ops, up.UserptrOps)

    # -- submission -----------------------------------------------------------------------
    def submit_init(self, obj: GemObject, mm: Any) -> None:
        st = up._state(obj)
        if st.notifier.mm is not mm:
            raise EFAULT("userptr used from a foreign address space")
        seq = mmu_interval_read_begin(st.notifier)
        with obj.lock:
            if seq == st.notifier_seq and st.pvec is not None:
                return
            up._unbind_and_put(obj)
        pvec = up._pin_all(obj, st)
        obj.dev.faults.run("userptr.after_pin", obj)
        with obj.lock:
            against = seq if not st.page_ref else st.notifier_seq
            if mmu_interval_read_retry(st.notifier, against):
                unpin_user_pages(obj.dev.phys, pvec, dirty=False)
                if trace.enabled:
                    trace.emit("userptr", "collision", obj=obj.id, seq=seq)
                raise EAGAIN("collided with an mmu notifier invalidation")
            if st.page_ref:
                # Another thread installed a vector at a still-valid sequence meanwhile.
                unpin_user_pages(obj.dev.phys, pvec, dirty=False)
                return
            st.pvec, st.notifier_seq, st.page_ref = pvec, seq, 1
            try:
                obj.get_pages_locked()
            finally:
                up._drop_ref(obj, st)
        if trace.enabled:
            trace.emit("userptr", "pinned", obj=obj.id, npages=len(pvec), seq=seq)

    def submit_done(self, obj: GemObject) -> None:
        st = up._state(obj)
        if mmu_interval_read_retry(st.notifier, st.notifier_seq):
            if trace.enabled:
                trace.emit("userptr", "collision", obj=obj.id, seq=st.notifier_seq)
            raise EAGAIN("userptr invalidated during submission")

    def submit_done_all(self, objs: Sequence[GemObject]) -> None:
        """Every userptr of the execbuf, in order (v6.8 takes no lock for the loop: the
        sequence checks are lockless reads)."""
        for obj in objs:
            if self.is_userptr(obj):
                self.submit_done(obj)

    def validate(self, obj: GemObject, mm: Any) -> None:
        self.submit_init(obj, mm)
        with obj.lock:
            obj.pin_pages_locked()
            obj.unpin_pages_locked()

    def object_free_lock(self, obj: GemObject) -> AbstractContextManager[None]:
        """No device-wide lock around a free since the 2021 rework."""
        return nullcontext()

    def vma_bound(self, obj: GemObject, nbound: int) -> None:
        """DMA mappings follow the pages (get_pages/put_pages), not the bindings."""

    def device_lock(self) -> AbstractContextManager[None]:
        """No device-wide lock since the 2021 rework."""
        return nullcontext()

    def finish(self) -> None:
        """No workers of its own."""

    def __repr__(self) -> str:
        return f"<userptr design {self.name}>"


_DEFAULT = V6_8(up.USERPTR_OPS)     # stateless: one instance serves every device
register("v6.8", lambda: _DEFAULT)
