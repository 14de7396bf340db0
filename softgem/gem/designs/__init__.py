"""The userptr designs: each era of i915's userptr path in its own module, behind one seam.

A device holds one :class:`UserptrDesign` (``dev.userptr_design``); the rest of the core calls
only the operations below (execbuf: ``is_userptr``, ``submit_init``, ``submit_done_all``; the
uAPI: ``userptr_create``; SET_DOMAIN: ``validate``) and never branches on a design's name.
Each design owns its backing ops, whose ``design`` attribute points back to it, so an object
created by a design is always served by that design.

=======  =========================================================================================
name     what differs (docs/history.md has the kernel references)
=======  =========================================================================================
v6.8     today's default: the notifier callback only records the sequence, never waits
v5.14    the callback refuses non-blockable ranges, takes ``notifier_lock`` (an rwlock) for
         write to record the sequence, then waits for the object's GPU work unless the task is
         exiting; execbuf's submit_done loop runs under the lock for read
v5.13    the same with ``notifier_lock`` a spinlock (taken for the submit_done loop too)
v4.4     the 2014 design after its 2014-2015 fixes: per-mm notifier, a cancel worker per
         invalidated object, ``struct_mutex`` (:mod:`.v4_4`, docs/history-2014.md)
v3.16    the original userptr (v20 of the patch): the callback takes ``struct_mutex`` and
         unbinds, waiting for the GPU (:mod:`.v3_16`)
=======  =========================================================================================

``userptr-v16`` (v3.16 with v16's overlap check: EINVAL where v17 says EAGAIN),
``v3.17-rc`` (v4.4 with e9681366ea reverted: a failed registration stored in the
i915_mm_struct) and
``rework-v4`` (v5.13 as first posted, with the submit_done loop bug) and ``v5.13-nofence``
(v5.13 with the v4 review's fence point applied, never merged: docs/history_late.md) are
registered like the eras.  The explorer's planted bugs (``softgem.scenarios.planted``) are designs too (v6.8
subclasses); they live in the top layer and are set on a device directly, not registered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..device import GemDevice
    from ..file import DrmFile
    from ..object import GemObject

__all__ = ["DEFAULT_DESIGN", "UserptrDesign", "design_names", "make_design", "register"]

DEFAULT_DESIGN = "v6.8"


@runtime_checkable
class UserptrDesign(Protocol):
    """What the core asks of a userptr design."""

    name: str

    def userptr_create(self, dev: GemDevice, file: DrmFile, mm: Any, user_ptr: int,
                       user_size: int, flags: int) -> int:
        """GEM_USERPTR: check the arguments, create the object and its handle."""

    def is_userptr(self, obj: GemObject) -> bool: ...

    def submit_init(self, obj: GemObject, mm: Any) -> None:
        """Pin the pages at the current notifier sequence (EFAULT, EAGAIN)."""

    def submit_done(self, obj: GemObject) -> None:
        """EAGAIN if an invalidation hit the sequence submit_init pinned at."""

    def submit_done_all(self, objs: Sequence[GemObject]) -> None:
        """Execbuf's final check over its objects in execbuf order (EAGAIN)."""

    def validate(self, obj: GemObject, mm: Any) -> None:
        """SET_DOMAIN's validity probe."""

    def object_free_lock(self, obj: GemObject) -> AbstractContextManager[None]:
        """What the last put of ``obj`` runs its release under (the 2014 designs: the
        device's ``struct_mutex`` for a userptr; today's: nothing)."""

    def vma_bound(self, obj: GemObject, nbound: int) -> None:
        """Execbuf bound one more GPU vma of ``obj`` (``nbound`` of its vmas are bound now):
        the 2014 DMA mapping per bind; nothing today."""

    def device_lock(self) -> AbstractContextManager[None]:
        """The device-wide lock the era's ioctls ran under (the 2014 designs'
        ``struct_mutex``, taken here by SET_TILING; today's: nothing)."""

    def finish(self) -> None:
        """Device teardown: run and stop the design's own workers (if it has any)."""


_FACTORIES: dict[str, Callable[[], UserptrDesign]] = {}


def register(name: str, factory: Callable[[], UserptrDesign]) -> None:
    if name in _FACTORIES:
        raise ValueError(f"userptr design {name!r} registered twice")
    _FACTORIES[name] = factory


def _load() -> None:
    from . import rework_v4, v3_16, v4_4, v5_13, v5_14, v6_8  # noqa: F401  (they register)
    from . import v5_13_nofence as _nofence  # noqa: F401  (seed 003)


def design_names() -> list[str]:
    _load()
    return sorted(_FACTORIES)


def make_design(name: str = DEFAULT_DESIGN) -> UserptrDesign:
    """A fresh design (per device: some own a device-wide lock); ValueError names the known."""
    _load()
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ValueError(f"unknown userptr design {name!r}; known: {', '.join(design_names())}")
    return factory()
