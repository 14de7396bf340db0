"""UserFrames against this very process: refresh before GPU access, write-back of exactly
the bytes the GPU wrote, and the private copy after a detach (userframes.py)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from softgem.host.userframes import UserFrames
from softgem.mm import PhysMem
from softgem.units import PAGE_SIZE


class _Mm:
    """The two fields UserFrames reads of a HostUserMm."""

    def __init__(self) -> None:
        self.tgid = os.getpid()
        self.exited = False


def _setup(npages: int) -> tuple[PhysMem, UserFrames, Any, np.ndarray, list[int]]:
    phys = PhysMem(64)
    frames = UserFrames(phys)
    mm = _Mm()
    buf = np.zeros(npages * PAGE_SIZE + PAGE_SIZE, dtype=np.uint8)
    start = (buf.ctypes.data + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
    view = buf[start - buf.ctypes.data:][:npages * PAGE_SIZE]
    pfns: list[int] = []
    for _ in range(npages):
        pfn = phys.alloc_page()
        phys.pin_page(pfn)
        phys.put_page(pfn)
        pfns.append(pfn)
    frames.pinned(mm, start, pfns)  # type: ignore[arg-type]
    return phys, frames, mm, view, pfns


def _flat(phys: PhysMem, pfn: int, at: int = 0) -> int:
    return phys.index(pfn) * PAGE_SIZE + at


def test_gpu_reads_see_cpu_writes_and_gpu_writes_land_in_memory() -> None:
    phys, frames, _mm, view, pfns = _setup(3)
    view[:] = 5
    frames.begin()
    frames.gpu_access(_flat(phys, pfns[1]), PAGE_SIZE, False, False)
    assert (phys.page(pfns[1]) == 5).all() and (phys.page(pfns[0]) == 0).all()
    view[PAGE_SIZE:2 * PAGE_SIZE] = 6          # a CPU write inside the request: not seen
    frames.gpu_access(_flat(phys, pfns[1]), PAGE_SIZE, False, False)
    assert (phys.page(pfns[1]) == 5).all()
    frames.gpu_access(_flat(phys, pfns[1], 100), 8, True, False)
    phys.page(pfns[1])[100:108] = 9             # the GPU's store
    view[PAGE_SIZE + 200] = 7                   # the CPU's, elsewhere on the same page
    frames.flush()
    page = view[PAGE_SIZE:2 * PAGE_SIZE]
    assert (page[100:108] == 9).all() and page[200] == 7 and page[99] == 6
    frames.begin()                              # the next request sees the CPU's writes
    frames.gpu_access(_flat(phys, pfns[1]), PAGE_SIZE, False, False)
    assert phys.page(pfns[1])[200] == 7
    frames.flush()
    for pfn in pfns:
        phys.unpin_page(pfn)


def test_a_detached_frame_is_a_private_copy() -> None:
    phys, frames, mm, view, pfns = _setup(2)
    view[:] = 3
    start = int(view.ctypes.data)
    assert frames.detach(mm, start, start + PAGE_SIZE) == 1    # copied aside, then let go
    assert (phys.page(pfns[0]) == 3).all()
    view[:] = 4
    frames.begin()
    frames.gpu_access(_flat(phys, pfns[0]), 2 * PAGE_SIZE, True, False)
    assert (phys.page(pfns[0]) == 3).all() and (phys.page(pfns[1]) == 4).all()
    phys.page(pfns[0])[:] = 8
    phys.page(pfns[1])[:] = 8
    frames.flush()
    assert (view[:PAGE_SIZE] == 4).all() and (view[PAGE_SIZE:] == 8).all()
    assert frames.detach(mm, start, start + PAGE_SIZE) == 0
    for pfn in pfns:
        phys.unpin_page(pfn)
    assert frames.detach(mm, start, start + 2 * PAGE_SIZE) == 0   # unpinned: not followed


def test_a_big_move_runs_in_two_halves_and_moves_every_byte() -> None:
    npages = (8 << 20) // PAGE_SIZE + 3          # past the split threshold, not even
    phys = PhysMem(npages + 8)
    frames = UserFrames(phys)
    mm = _Mm()
    buf = np.zeros((npages + 1) * PAGE_SIZE, dtype=np.uint8)
    start = (buf.ctypes.data + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)
    view = buf[start - buf.ctypes.data:][:npages * PAGE_SIZE]
    view[:] = np.arange(len(view), dtype=np.uint64).astype(np.uint8) ^ 0x5A
    pfns: list[int] = []
    for _ in range(npages):
        new = phys.alloc_page()
        phys.pin_page(new)
        phys.put_page(new)
        pfns.append(new)
    frames.pinned(mm, start, pfns)  # type: ignore[arg-type]
    frames.begin()
    for pfn in pfns:                # scattered or not, each frame is refreshed once
        frames.gpu_access(_flat(phys, pfn), PAGE_SIZE, False, False)
    frames.flush()
    got = np.concatenate([phys.page(pfn) for pfn in pfns])
    assert (got == view).all()
    rows = np.array([phys.index(p) for p in pfns], dtype=np.int64)
    frames.begin()                  # and the whole-page copy path writes them all back
    view[:] = 0
    assert frames.gpu_copy(rows, rows)
    frames.flush()
    assert (view == 0).all()        # read back from the program, then written: unchanged
    frames.begin()
    for pfn in pfns:
        phys.page(pfn)[:] = 0xEE
    for pfn in pfns:                # whole-page GPU writes, coalesced into big write-backs
        frames.gpu_access(_flat(phys, pfn), PAGE_SIZE, True, True)
    frames.flush()
    assert (view == 0xEE).all()
    for pfn in pfns:
        phys.unpin_page(pfn)
