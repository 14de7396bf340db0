"""softgem.notifier exports exactly its public API, all of it importable from the root."""

from __future__ import annotations

import softgem.notifier as notifier

PUBLIC = {
    "IntervalNode", "IntervalTree",
    "MmuIntervalNotifier", "MmuIntervalNotifierOps",
    "MmuNotifier", "MmuNotifierOps", "MmuNotifierSubscriptions", "NotifierMm",
    "SubscriptionStatistics",
    "mmu_interval_check_retry", "mmu_interval_notifier_insert",
    "mmu_interval_notifier_insert_locked", "mmu_interval_notifier_remove",
    "mmu_interval_read_begin", "mmu_interval_read_retry", "mmu_interval_set_seq",
    "mmu_notifier_register", "mmu_notifier_register_locked", "mmu_notifier_unregister",
    "subscriptions_of",
}


def test_the_package_exports_exactly_the_public_api() -> None:
    assert set(notifier.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(notifier, name) is not None


def test_subscriptions_implement_the_mm_contract() -> None:
    from softgem.mm.notify import NotifierSubscriptions

    subs: NotifierSubscriptions = notifier.MmuNotifierSubscriptions()
    for method in ("invalidate_range_start", "invalidate_range_end", "release"):
        assert callable(getattr(subs, method))
