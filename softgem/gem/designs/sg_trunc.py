"""The userptr page list before v6.3: the page count truncated to the scatterlist's 32 bits.

``i915_gem_userptr_get_pages`` of v5.13 .. v6.2 passed ``obj->base.size >> PAGE_SHIFT`` (an
``unsigned long``) to ``sg_alloc_table_from_pages_segment``, whose ``n_pages`` is an
``unsigned int``: an object of 2^32 + k pages got a table built from its first k pages.  The
scatterlist itself stays consistent; the object does not: everything that reaches a page
of the object by its index (the relocation write through ``i915_gem_object_get_dirty_page``,
whose ``__i915_gem_object_get_sg`` walks ``____sg_next`` past the last entry) runs past the
table it was given.  Commit "drm/i915: Check for integer truncation on scatterlist creation"
(v6.3, seed 004) answers E2BIG instead, as :class:`~softgem.gem.userptr.UserptrOps` does.

:class:`ShortSgTable` is such a table: it holds the truncated count only (the model never
allocates more than the kernel did) and remembers the object's real page count; a page
looked up past its entries is reported (``task.observe("sg.overflow", obj, detail)``, the
history row's checker) and stopped as a :class:`~softgem.errors.SimBug` (the kernel wrote
through a pointer read from past the table).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ...errors import EAGAIN, SimBug
from ...sync import task
from ...units import PAGE_SHIFT, Pfn
from .. import userptr as up
from ..pages import SgTable

if TYPE_CHECKING:
    from ..object import GemObject

__all__ = ["SG_COUNT_BITS", "ShortSgTable", "TruncatingUserptrOps"]

SG_COUNT_BITS = 32          # sg_alloc_table_from_pages_segment's unsigned int n_pages


class ShortSgTable(SgTable):
    """A page list built from a truncated page count, for an object of ``object_pages``."""

    __slots__ = ("obj_id", "object_pages")

    def __init__(self, pfns: Sequence[int] | npt.NDArray[np.int64], max_segment: int,
                 obj_id: int, object_pages: int) -> None:
        super().__init__(pfns, max_segment)
        self.obj_id = obj_id
        self.object_pages = object_pages

    def page(self, n: int) -> Pfn:
        if 0 <= n < len(self.pfns):
            return super().page(n)
        detail = {"page": n, "entries": len(self.pfns), "object_pages": self.object_pages}
        task.observe("sg.overflow", self.obj_id, detail)
        raise SimBug(f"object {self.obj_id}: page {n} looked up past the {len(self.pfns)} "
                     f"entries of its sg table (the object has {self.object_pages} pages; "
                     f"the count was truncated to {SG_COUNT_BITS} bits)")


class TruncatingUserptrOps(up.UserptrOps):
    """The v5.13 .. v6.2 ``get_pages``: no E2BIG, the table from the truncated count."""

    def get_pages(self, obj: GemObject) -> SgTable:
        npages = obj.size >> PAGE_SHIFT
        if npages < 1 << SG_COUNT_BITS:
            return super().get_pages(obj)
        st = up._state(obj)
        if not st.page_ref or st.pvec is None:
            raise EAGAIN("userptr pages not validated: submit_init first")
        st.page_ref += 1
        n_pages = npages & ((1 << SG_COUNT_BITS) - 1)       # the implicit conversion
        return ShortSgTable(np.asarray(st.pvec[:n_pages], dtype=np.int64),
                            obj.dev.platform.max_segment, obj.id, npages)
