"""softgem.sync exports exactly its public names, and each primitive works as ``with``."""

from __future__ import annotations

import types

import softgem.sync as sync


def test_all_lists_every_public_name_and_nothing_else() -> None:
    public = {name for name, value in vars(sync).items()
              if not name.startswith("_") and name != "annotations"
              and (not isinstance(value, types.ModuleType) or name in ("lockdep", "clock", "task"))}
    assert set(sync.__all__) == public
    assert sorted(sync.__all__, key=str.lower) == sorted(set(sync.__all__), key=str.lower)


def test_every_lock_like_primitive_is_a_context_manager() -> None:
    for lock in (sync.Mutex("t_cm_all.m"), sync.SpinLock("t_cm_all.s"),
                 sync.RwSem("t_cm_all.rs"), sync.RwLock("t_cm_all.rl"),
                 sync.SeqCount("t_cm_all.seq")):
        with lock:
            pass


def test_lockdep_exposes_its_documented_api() -> None:
    for name in ("enable", "disable", "enabled", "reports", "clear_reports", "reset",
                 "held_locks", "assert_held", "assert_not_held", "expect_reports", "prime",
                 "lock_acquire", "lock_acquired", "lock_release", "might_sleep"):
        assert name in sync.lockdep.__all__ and hasattr(sync.lockdep, name)
