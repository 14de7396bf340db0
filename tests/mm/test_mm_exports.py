"""The package front door: what softgem.mm exports, and the UserMm protocol."""

from __future__ import annotations

import inspect

import softgem.mm as mm_pkg
from softgem.mm import Mm, UserMm


def test_every_exported_name_exists() -> None:
    missing = [n for n in mm_pkg.__all__ if not hasattr(mm_pkg, n)]
    assert missing == []


def test_the_brief_api_is_exported_under_its_names() -> None:
    for name in ("PhysMem", "Mm", "Vma", "FileMapping", "MappableFile", "VmOperations",
                 "VmFault", "UserMm", "pin_user_pages", "unpin_user_pages", "probe_range",
                 "NotifyEvent", "NotifierRange", "VM_PFNMAP", "VM_IO", "VM_MIXEDMAP"):
        assert name in mm_pkg.__all__


def test_mm_implements_every_member_of_user_mm() -> None:
    members = [n for n in dir(UserMm) if not n.startswith("_")]
    members += list(UserMm.__annotations__)
    for name in members:
        assert hasattr(Mm, name) or name in ("phys", "mmap_lock", "notifier_subscriptions")
    for name in ("copy_from_user", "copy_to_user", "access_ok", "pin_user_pages",
                 "probe_range"):
        assert list(inspect.signature(getattr(Mm, name)).parameters) == \
            list(inspect.signature(getattr(UserMm, name)).parameters)
