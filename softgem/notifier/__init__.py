"""softgem.notifier (L1): mmu_notifier and mmu_interval_notifier with the kernel's protocol.

The mm layer (L0) raises range events through :mod:`softgem.mm.notify`; this layer installs
an :class:`MmuNotifierSubscriptions` on an address space the first time someone registers
and fans the events out to interval notifiers (collision-retry sequence protocol) and to
whole-mm notifiers.  Modules: ``interval_tree`` (the index), ``subscriptions`` (per-mm
state, the protocol's state table and race diagram), ``interval`` and ``mmu_notifier`` (the
registration and read-side API), ``hlist`` (the whole-mm notifier list), ``srcu`` (the
grace period for unregister).
"""

from .interval import (
    MmuIntervalNotifier,
    MmuIntervalNotifierOps,
    mmu_interval_check_retry,
    mmu_interval_notifier_insert,
    mmu_interval_notifier_insert_locked,
    mmu_interval_notifier_remove,
    mmu_interval_read_begin,
    mmu_interval_read_retry,
    mmu_interval_set_seq,
)
from .interval_tree import IntervalNode, IntervalTree
from .mmu_notifier import (
    MmuNotifier,
    MmuNotifierOps,
    mmu_notifier_register,
    mmu_notifier_register_locked,
    mmu_notifier_unregister,
)
from .subscriptions import (
    MmuNotifierSubscriptions,
    NotifierMm,
    SubscriptionStatistics,
    subscriptions_of,
)

__all__ = [
    "IntervalNode",
    "IntervalTree",
    "MmuIntervalNotifier",
    "MmuIntervalNotifierOps",
    "MmuNotifier",
    "MmuNotifierOps",
    "MmuNotifierSubscriptions",
    "NotifierMm",
    "SubscriptionStatistics",
    "mmu_interval_check_retry",
    "mmu_interval_notifier_insert",
    "mmu_interval_notifier_insert_locked",
    "mmu_interval_notifier_remove",
    "mmu_interval_read_begin",
    "mmu_interval_read_retry",
    "mmu_interval_set_seq",
    "mmu_notifier_register",
    "mmu_notifier_register_locked",
    "mmu_notifier_unregister",
    "subscriptions_of",
]
