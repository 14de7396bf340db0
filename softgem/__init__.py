"""softgem: a software i915 GEM memory subsystem (userptr, mmu notifiers, mmap_offset).

Layers, lowest first (imports go downward only; ``tests/test_layers.py`` enforces it):

====== ====================================== ===============================================
layer  package                                owns
====== ====================================== ===============================================
base   errors, units, posix, sync             errno exceptions, page arithmetic, locks
L0     mm                                     frames, address spaces, VMAs, faults, gup
L1     notifier                               mmu_notifier / mmu_interval_notifier
L2     gem                                    GEM objects, userptr, mmap offsets
L3     gpu                                    GTT, vmas, requests, engines
L4     uapi                                   structs, ioctl numbers, the ioctl table
L5     machine, host                          simulated Machine/Process; host supervisor
side   explore                                deterministic scheduling (base only)
top    cli, bench                             command line, benchmarks, pictures
====== ====================================== ===============================================
"""

from __future__ import annotations

from typing import Any

from .errors import KernelError, OomKilled, Segfault, Sigbus, SimBug

__all__ = ["KernelError", "Machine", "OomKilled", "Process", "Segfault", "Sigbus", "SimBug", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The machine layer sits at the top of the core; importing it lazily keeps
    # ``import softgem.errors`` (and every lower layer) free of upward imports.
    if name in ("Machine", "Process"):
        from . import machine

        return getattr(machine, name)
    raise AttributeError(name)
