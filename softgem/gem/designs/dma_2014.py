"""The DMA-API of the 2014 designs, with CONFIG_DMA_API_DEBUG's accounting: a count of live
mappings of each userptr's pages, checked when the object is released (e227330223)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from ...errors import SimBug
from .state_2014 import era_state

if TYPE_CHECKING:
    from ..object import GemObject

__all__ = ["DmaApiDebug"]


class DmaApiDebug(ABC):
    """Mixed into the era's design: ``dma_map_per_bind`` says which era it is."""

    dma_map_per_bind = False        # the DMA mapping made at each vma bind (until e227330223)

    @abstractmethod
    def is_userptr(self, obj: GemObject) -> bool: ...

    def dma_map(self, obj: GemObject) -> None:
        """``dma_map_sg`` of the object's table: one more live mapping of its pages."""
        era_state(obj).dma_maps += 1

    def dma_unmap(self, obj: GemObject) -> None:
        st = era_state(obj)
        if st.dma_maps <= 0:
            raise SimBug(f"DMA-API: {obj!r}: unmapping a table that is not mapped")
        st.dma_maps -= 1

    def vma_bound(self, obj: GemObject, nbound: int) -> None:
        """Before e227330223 each new vma of the object mapped its table again (the sg
        table keeps one DMA address: the mapping it replaces is never unmapped); the last
        unbind unmapped once.  The model does that unmap lazily: a fresh bind with no other
        vma bound means the last unbind happened."""
        if not self.dma_map_per_bind or not self.is_userptr(obj):
            return
        st = era_state(obj)
        if nbound == 1 and st.dma_maps:
            self.dma_unmap(obj)         # the unmap of the last unbind, since
        self.dma_map(obj)

    def dma_debug_release(self, obj: GemObject) -> None:
        """At free (every vma unbound): DMA-API debug reports mappings never unmapped."""
        st = era_state(obj)
        if self.dma_map_per_bind and st.dma_maps:
            self.dma_unmap(obj)         # the last unbind's
        if st.dma_maps:
            n, st.dma_maps = st.dma_maps, 0
            raise SimBug(f"DMA-API debug: {obj!r} released with {n} DMA mapping(s) of its "
                         "pages still mapped (leaked)")
