"""v5.13: the mmu_interval_notifier rework as merged ("Fix userptr so we do not have to worry
about obj->mm.lock, v7"): v5.14's callback with ``notifier_lock`` a spinlock.

The merged v5.13 callback already refused non-blockable ranges and skipped the wait for an
exiting task (both added during the series' review), so they stay.  Not modelled: v5.13 held
the page reference from submit_init to a separate ``submit_fini`` under the spinlock; this
model uses v5.14's bookkeeping (get_pages holds it) for both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ...sync import SpinLock
from . import register
from .sg_trunc import TruncatingUserptrOps
from .v5_14 import V5_14
from .v6_8 import V6_8

__all__ = ["V5_13"]


class V5_13(V5_14):
    name = "v5.13"

    def __init__(self) -> None:
        V6_8.__init__(self, TruncatingUserptrOps())   # not V5_14's: no rwlock in this era
        self.notifier_spinlock = SpinLock("i915.mm.notifier_spinlock")

    @contextmanager
    def notifier_write(self) -> Iterator[None]:
        with self.notifier_spinlock:
            yield

    @contextmanager
    def notifier_read(self) -> Iterator[None]:
        with self.notifier_spinlock:
            yield


register("v5.13", V5_13)
