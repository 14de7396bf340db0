"""``UserMm``: the part of an address space the layers above may use.

The GEM/userptr and uapi layers reach user memory only through this protocol, so the
simulated :class:`~softgem.mm.Mm` and a later host-mode address space (a real process reached
with ``process_vm_readv``) are interchangeable.  Everything is a method or attribute of the
mm itself; the module functions ``gup.pin_user_pages(mm, ...)`` / ``gup.probe_range(mm, ...)``
are the simulated implementation and call back into nothing but this protocol's owner.

Pins are dropped with :func:`softgem.mm.unpin_user_pages` on ``mm.phys`` (pins belong to
frames, not to address spaces: they outlive munmap and exit).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..sync import RwSem
from ..units import Pfn
from .notify import NotifierSubscriptions
from .phys import PhysMem

__all__ = ["UserMm"]


class UserMm(Protocol):
    phys: PhysMem
    mmap_lock: RwSem
    notifier_subscriptions: NotifierSubscriptions | None

    def copy_from_user(self, addr: int, n: int) -> bytes:
        """Read user memory; EFAULT if any byte is not readable."""
        ...

    def copy_to_user(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        """Write user memory; EFAULT if any byte is not writable (earlier bytes stay
        written)."""
        ...

    def copy_to_user_vec(self, pieces: Sequence[tuple[int, bytes | bytearray | memoryview]]
                         ) -> int:
        """Several copy_to_user in order, each piece already past ``access_ok``: stop at the
        first piece that faults and return how many leading pieces were stored whole."""
        ...

    def access_ok(self, addr: int, size: int) -> bool:
        """``[addr, addr+size)`` lies in user space and does not wrap."""
        ...

    def pin_user_pages(self, start: int, nr_pages: int, write: bool) -> list[Pfn]:
        """FOLL_PIN ``nr_pages`` pages from page-aligned ``start`` (takes mmap_lock for
        read; must not be held).  Returns the pages pinned before the first refusal; raises
        (EFAULT, ENOMEM) only if the very first page fails."""
        ...

    def probe_range(self, start: int, length: int) -> None:
        """EFAULT if the range has a hole or touches a PFNMAP/MIXEDMAP mapping."""
        ...
