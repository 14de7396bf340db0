"""GET_APERTURE: the size of the global GTT and how much of it is not pinned.

``aper_size`` is the whole GGTT (the uAPI name predates the mappable/unmappable split);
``aper_available_size`` subtracts what is pinned there right now (scanout, objects pinned for
a running batch).  Until the GPU layer brings a real GGTT nothing is pinned, so the whole GGTT
is available; the GPU layer reports its pinned bytes through ``GpuHooks.ggtt_pinned_size()``
when it provides that method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .device import GemDevice

__all__ = ["get_aperture"]


def get_aperture(dev: GemDevice) -> tuple[int, int]:
    """I915_GEM_GET_APERTURE: ``(aper_size, aper_available_size)`` in bytes; never fails."""
    total = dev.platform.ggtt_size
    pinned = dev.gpu.ggtt_pinned_size() if dev.gpu is not None else 0
    return total, total - pinned
