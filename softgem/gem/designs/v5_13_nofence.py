"""v5.13-nofence: v5.13 with the second point of the v4 review applied -- never merged.

Seed 003 (Thomas Hellstrom on v4 of the rework, October 2020): "Is there a chance we could
avoid setting the fence for this object if we need to restart with -EAGAIN [...]?  if we
allow setting a fence even when returning -EAGAIN, that would likely not be the fence
waited for in the invalidation callback, but rather a fence waited for during unbind in
the next submit_init".  v4 installed the request's fence in every object's reservation
before the final submit_done check, and so did every later kernel (v5.13 .. v6.8: the
``i915_vma_move_to_active`` loop of ``eb_move_to_gpu`` runs before the userptr loop, and
an -EAGAIN only marks the request's payload skipped); here every such design keeps it.

This design answers the review: an execbuf that returns -EAGAIN leaves no fence of its
(skipped) request on its userptrs -- execbuf asks ``fence_on_eagain`` and retracts the
fence from the userptr's reservation and vma (as ``dma_resv_replace_fences`` with a
signalled stub would), so the retry's submit_init has nothing of it to wait for.
"""

from __future__ import annotations

from . import register
from .v5_13 import V5_13

__all__ = ["V5_13NoFence"]


class V5_13NoFence(V5_13):
    name = "v5.13-nofence"
    fence_on_eagain = False


register("v5.13-nofence", V5_13NoFence)
