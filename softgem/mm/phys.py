"""Physical memory: page frames, their reference and pin counts, and the shared zero page.

One :class:`PhysMem` stands for the machine's RAM.  Frame contents live in one numpy array
(``data[index]`` is one 4 KiB frame) over a private anonymous mapping, so untouched frames
cost nothing until written, and every frame is page aligned in the process: host mode maps a
GEM object's shmem file over the frames that hold its pages (``softgem.host.devmmap``), so
that the program's CPU mapping and the model's frames are the same memory.  Frame numbers start at a seeded random ``base_pfn``: code that
assumes ``pfn == index`` or ``pfn == vpn`` breaks at once.

Per-frame state (all indexed by row, guarded by ``phys_lock``):

| field      | meaning                                                                |
|------------|------------------------------------------------------------------------|
| refcount   | ``page_count``: 0 = free; page-table mappings, pins and owners add one  |
| pincount   | FOLL_PIN holders (each pin also holds one reference)                    |
| flags      | DIRTY, ACCESSED, ANON (an anonymous page), EXCLUSIVE (PageAnonExclusive)|

Allocation hands out the lowest free frame (a heap of freed rows, then a watermark of rows
never used), so back-to-back allocations are usually physically contiguous -- the GPU page
list coalesces such runs.  Recycled frames are zeroed on allocation; never-used frames are
already zero.

The zero page is row 0: read-only, never freed, not reference counted (the kernel does not
count references to it either).  Pinning it is allowed and counted in ``nr_pinned`` so pins
stay balanced.

Rejected alternative: numpy arrays for the counters.  Item access on numpy arrays is several
times slower than on a list of ints, and the counters are touched one frame at a time.
"""

from __future__ import annotations

import heapq
import mmap
import random
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from ..errors import ENOMEM, SimBug
from ..sync import SpinLock
from ..units import PAGE_SIZE, Pfn

__all__ = ["PhysMem", "PG_DIRTY", "PG_ACCESSED", "PG_ANON", "PG_EXCLUSIVE"]

PG_DIRTY = 0x1
PG_ACCESSED = 0x2
PG_ANON = 0x4
PG_EXCLUSIVE = 0x8

_ZERO_ROW = 0


#: frames are host memory only once touched, so a model larger than the host's free RAM may
#: be created (Linux's MAP_NORESERVE; the mmap module of Python 3.11 does not name it)
_MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)

class PhysMem:
    """The machine's page frames.  Thread safe; ``phys_lock`` is innermost in the lock order."""

    __slots__ = (
        "_flags",
        "_free",
        "_lock",
        "_nr_pinned",
        "_nr_used",
        "_pin",
        "_ram",
        "_ref",
        "_watermark",
        "base_pfn",
        "data",
        "flat",
        "nr_frames",
        "zero_pfn",
    )

    def __init__(self, nr_frames: int = 262144, *, rng: random.Random | None = None) -> None:
        if nr_frames < 2:
            raise SimBug("PhysMem needs at least the zero page and one frame")
        rng = rng if rng is not None else random.Random(0)
        self.nr_frames = nr_frames
        # A random, 2 MiB-aligned base so contiguity is still meaningful to the GPU layer.
        self.base_pfn = Pfn(rng.randrange(0x100, 0x4000) << 9)
        self._ram = mmap.mmap(-1, nr_frames * PAGE_SIZE,
                              flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE)
        self.data: npt.NDArray[np.uint8] = np.frombuffer(self._ram, dtype=np.uint8).reshape(
            nr_frames, PAGE_SIZE)
        # The same bytes as one flat memoryview: slicing it is the cheapest way to move a
        # page-sized run in or out (no numpy object per copy).
        self.flat: memoryview = self.data.data.cast("B")
        self._ref = [0] * nr_frames
        self._pin = [0] * nr_frames
        self._flags = bytearray(nr_frames)
        self._free: list[int] = []
        self._watermark = 1
        self._nr_used = 0
        self._nr_pinned = 0
        self._lock = SpinLock("mm.phys_lock")
        self.zero_pfn = Pfn(self.base_pfn + _ZERO_ROW)
        self._ref[_ZERO_ROW] = 1

    # -- addressing --------------------------------------------------------------------------
    def index(self, pfn: Pfn | int) -> int:
        """Row of ``pfn`` in :attr:`data`."""
        i = pfn - self.base_pfn
        if not 0 <= i < self.nr_frames:
            raise SimBug(f"pfn {pfn:#x} is not a frame of this machine")
        return i

    def pfn_of(self, index: int) -> Pfn:
        return Pfn(self.base_pfn + index)

    def row_address(self, index: int) -> int:
        """Where row ``index`` lives in this process (page aligned; for host-mode sharing)."""
        return int(self.data.ctypes.data) + index * PAGE_SIZE

    def is_valid_pfn(self, pfn: int) -> bool:
        return 0 <= pfn - self.base_pfn < self.nr_frames

    def page(self, pfn: Pfn | int) -> npt.NDArray[np.uint8]:
        """A writable view of one frame (never hand out the zero page for writing)."""
        row: npt.NDArray[np.uint8] = self.data[self.index(pfn)]
        return row

    def read(self, pfn: Pfn | int, offset: int, n: int) -> bytes:
        if not (offset >= 0 and n >= 0 and offset + n <= PAGE_SIZE):
            raise SimBug(f"read of [{offset}, {offset + n}) outside a page")
        return self.data[self.index(pfn), offset:offset + n].tobytes()

    def write(self, pfn: Pfn | int, offset: int, data: bytes | bytearray | memoryview) -> None:
        n = len(data)
        if not (offset >= 0 and offset + n <= PAGE_SIZE):
            raise SimBug(f"write of [{offset}, {offset + n}) outside a page")
        i = self.index(pfn)
        if i == _ZERO_ROW:
            raise SimBug("write to the zero page")
        self.data[i, offset:offset + n] = np.frombuffer(data, dtype=np.uint8, count=n)

    # -- allocation and references -----------------------------------------------------------
    def alloc_page(self, flags: int = 0) -> Pfn:
        """A zeroed frame with one reference.  Raises ENOMEM when RAM is exhausted."""
        with self._lock:
            if self._free:
                i = heapq.heappop(self._free)
                self.data[i].fill(0)
            elif self._watermark < self.nr_frames:
                i = self._watermark
                self._watermark += 1
            else:
                raise ENOMEM("out of page frames")
            self._ref[i] = 1
            self._flags[i] = flags
            self._nr_used += 1
        return Pfn(self.base_pfn + i)

    def get_page(self, pfn: Pfn | int) -> None:
        i = self.index(pfn)
        if i == _ZERO_ROW:
            return
        with self._lock:
            if self._ref[i] <= 0:
                raise SimBug(f"get_page on free frame {pfn:#x}")
            self._ref[i] += 1

    def put_page(self, pfn: Pfn | int) -> None:
        i = self.index(pfn)
        if i == _ZERO_ROW:
            return
        with self._lock:
            self._put_locked(i, pfn)

    def put_pages(self, pfns: Iterable[int]) -> None:
        """Drop one reference on each frame, under one lock acquisition (zap's batch)."""
        base = self.base_pfn
        with self._lock:
            for pfn in pfns:
                i = pfn - base
                if i != _ZERO_ROW:
                    self._put_locked(i, pfn)

    def _put_locked(self, i: int, pfn: int) -> None:
        if not 0 <= i < self.nr_frames:
            raise SimBug(f"pfn {pfn:#x} is not a frame of this machine")
        n = self._ref[i] - 1
        if n < 0:
            raise SimBug(f"put_page underflow on frame {pfn:#x}")
        self._ref[i] = n
        if n == 0:
            if self._pin[i]:
                raise SimBug(f"frame {pfn:#x} freed while pinned")
            self._flags[i] = 0
            self._nr_used -= 1
            heapq.heappush(self._free, i)

    def page_count(self, pfn: Pfn | int) -> int:
        return self._ref[self.index(pfn)]

    # -- FOLL_PIN ----------------------------------------------------------------------------
    def pin_page(self, pfn: Pfn | int) -> None:
        """Take a pin (and the reference that comes with it) on an allocated frame."""
        i = self.index(pfn)
        with self._lock:
            if self._ref[i] <= 0:
                raise SimBug(f"pin of free frame {pfn:#x}")
            if i != _ZERO_ROW:
                self._ref[i] += 1
            self._pin[i] += 1
            self._nr_pinned += 1

    def unpin_page(self, pfn: Pfn | int) -> None:
        i = self.index(pfn)
        with self._lock:
            if self._pin[i] <= 0:
                raise SimBug(f"unpin of frame {pfn:#x} that is not pinned")
            self._pin[i] -= 1
            self._nr_pinned -= 1
            if i != _ZERO_ROW:
                self._put_locked(i, pfn)

    def page_maybe_dma_pinned(self, pfn: Pfn | int) -> bool:
        return self._pin[self.index(pfn)] > 0

    def pincount(self, pfn: Pfn | int) -> int:
        return self._pin[self.index(pfn)]

    # -- page flags --------------------------------------------------------------------------
    def set_dirty(self, pfn: Pfn | int) -> None:
        self._flags[self.index(pfn)] |= PG_DIRTY

    def set_accessed(self, pfn: Pfn | int) -> None:
        self._flags[self.index(pfn)] |= PG_ACCESSED

    def is_dirty(self, pfn: Pfn | int) -> bool:
        return bool(self._flags[self.index(pfn)] & PG_DIRTY)

    def page_flags(self, pfn: Pfn | int) -> int:
        return self._flags[self.index(pfn)]

    def is_anon(self, pfn: Pfn | int) -> bool:
        return bool(self._flags[self.index(pfn)] & PG_ANON)

    def is_anon_exclusive(self, pfn: Pfn | int) -> bool:
        return bool(self._flags[self.index(pfn)] & PG_EXCLUSIVE)

    def set_anon_exclusive(self, pfn: Pfn | int, exclusive: bool) -> None:
        i = self.index(pfn)
        if exclusive:
            self._flags[i] |= PG_EXCLUSIVE
        else:
            self._flags[i] &= ~PG_EXCLUSIVE & 0xFF

    # -- counters ----------------------------------------------------------------------------
    def nr_used(self) -> int:
        """Frames allocated, excluding the zero page."""
        return self._nr_used

    def nr_pinned(self) -> int:
        """Sum of all pin counts."""
        return self._nr_pinned

    def nr_free(self) -> int:
        return self.nr_frames - 1 - self._nr_used
