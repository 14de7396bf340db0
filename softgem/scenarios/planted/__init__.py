"""Planted bugs: the v6.8 userptr design with one known bug switched on.

Each is a userptr design (:class:`softgem.gem.designs.UserptrDesign`, a subclass of v6.8 with
a few overrides) set as the device's ``userptr_design``, so the real path is untouched.  Each
bug is one the kernel's history knows:

==================  ==========================================================================
bug                 what the copy does wrong
==================  ==========================================================================
no-read-retry       installs pinned pages without re-checking the notifier sequence (neither
                    in submit_init nor in submit_done)
no-seq-mark         the notifier callback does not mark the sequence (mmu_interval_set_seq)
lock-in-notifier    the notifier callback takes the object lock, which execbuf holds while it
                    waits for the GPU
free-while-walked   the notifier is removed by deferred work after the object is freed, so an
                    invalidation can walk a freed object
==================  ==========================================================================
"""

from __future__ import annotations

from .userptr_copy import BUGS, PlantedUserptr

__all__ = ["BUGS", "PlantedUserptr"]
