"""The page list of an object (``struct sg_table``): pages plus coalesced segments.

Physically contiguous runs of pages are merged into one segment up to the platform's maximum
segment size, as ``sg_alloc_table_from_pages_segment`` does; the GPU and CPU-mapping code walk
segments, so a contiguous buffer moves as one slice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..units import PAGE_SIZE, Pfn

__all__ = ["SgTable", "Segment"]


@dataclass(frozen=True, slots=True)
class Segment:
    pfn: Pfn        # first frame
    npages: int     # frames pfn .. pfn + npages - 1


class SgTable:
    """An immutable list of page frames with its coalesced segments."""

    __slots__ = ("pfns", "segments")

    def __init__(self, pfns: Sequence[int] | npt.NDArray[np.int64],
                 max_segment: int = 0xFFFFF000) -> None:
        self.pfns: npt.NDArray[np.int64] = np.asarray(pfns, dtype=np.int64)
        self.segments: list[Segment] = _coalesce(self.pfns, max(1, max_segment // PAGE_SIZE))

    def __len__(self) -> int:
        return len(self.pfns)

    def __iter__(self) -> Iterator[Pfn]:
        return (Pfn(int(p)) for p in self.pfns)

    def page(self, n: int) -> Pfn:
        return Pfn(int(self.pfns[n]))

    @property
    def nents(self) -> int:
        return len(self.segments)


def _coalesce(pfns: npt.NDArray[np.int64], max_pages: int) -> list[Segment]:
    if len(pfns) == 0:
        return []
    # Break wherever the next frame is not the successor of this one.
    breaks = np.flatnonzero(np.diff(pfns) != 1) + 1
    starts = np.concatenate(([0], breaks))
    ends = np.concatenate((breaks, [len(pfns)]))
    segs: list[Segment] = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        while e - s > max_pages:
            segs.append(Segment(Pfn(int(pfns[s])), max_pages))
            s += max_pages
        segs.append(Segment(Pfn(int(pfns[s])), e - s))
    return segs
