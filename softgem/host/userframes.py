"""Host-mode userptr frames as a cache of the program's own pages (``gpu.vm.PageWatch``).

A host-mode pin copies the program's pages into frames of the device's PhysMem (the GPU can
only address those).  This module makes the frames a *live view*, as the kernel's pinned
pages are the program's own:

* every frame a :class:`~softgem.host.hostmm.HostUserMm` pins is recorded with its owner
  (address space, user address);
* before the GPU first touches a recorded frame in a request, the frame is refreshed from
  the program (``process_vm_readv``, one call per run contiguous on both sides) -- unless
  the GPU is about to overwrite the whole page;
* the byte ranges the GPU may have written are recorded per engine thread and written back
  into the program (``process_vm_writev``) when the request ends, before its fence signals,
  so a GEM_WAIT that returns sees the values;
* when the program unmaps or zaps pinned pages (:meth:`UserFrames.detach`, before the
  system call runs), the frames are refreshed one last time and forgotten: from then on they
  are the private copy the kernel's pinned pages would be, and GPU work still pending uses
  them; nothing is written back into memory the program gave away.

A frame's record may outlive its pin (nothing reports the unpin); it is trusted only while
the frame is still pinned, and a later pin of the frame overwrites it.

Threads: ``gpu_access``/``begin``/``flush`` run on engine threads, each with its own scope
(fresh frames, dirty ranges); ``pinned``/``detach``/``forget`` run on supervisor threads
under ``lock`` (a mutex: a detach copies the frames aside under it).  The record arrays are read without the lock (an engine racing a detach may
refresh a frame once more from memory that is still there, which is harmless).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from ..errors import KernelError
from ..gem import UserptrState, is_userptr
from ..sync import Mutex, SpinLock, Workqueue
from ..units import PAGE_SHIFT, PAGE_SIZE
from .procmem import move_frames, read_forced, read_mem, write_mem

if TYPE_CHECKING:
    from ..gem import GemObject
    from ..mm import PhysMem
    from .hostmm import HostUserMm

__all__ = ["UserFrames"]

_NONE = -1
_SPLIT_BYTES = 8 << 20      # moves this big are cut in two (UserFrames._move_split)


class _Scope(threading.local):
    active = False
    fresh: npt.NDArray[np.bool_] | None = None
    dirty: list[tuple[int, int]]

    def __init__(self) -> None:
        self.dirty = []


class UserFrames:
    """The frames of every host-mode userptr pin of one PhysMem."""

    def __init__(self, phys: PhysMem) -> None:
        self.phys = phys
        self.base = int(phys.data.ctypes.data)
        self.lock = Mutex("host.userframes")     # detach moves bytes under it: it sleeps
        n = phys.nr_frames
        self.addr: npt.NDArray[np.int64] = np.full(n, _NONE, dtype=np.int64)
        self.owner: npt.NDArray[np.int32] = np.full(n, _NONE, dtype=np.int32)
        self.mms: dict[int, HostUserMm] = {}
        self._ids: dict[int, int] = {}        # id(mm) -> index in self.mms
        self._scope = _Scope()
        self._helper: Workqueue | None = None     # the second mover (see _move_split)
        self._helper_lock = SpinLock("host.userframes_helper")

    # -- records (supervisor threads) ---------------------------------------------------
    def pinned(self, mm: HostUserMm, start: int, pfns: Sequence[int]) -> None:
        rows = np.array([self.phys.index(p) for p in pfns], dtype=np.int64)
        with self.lock:
            key = self._ids.get(id(mm))
            if key is None:
                key = self._ids[id(mm)] = len(self.mms)
                self.mms[key] = mm
            self.addr[rows] = start + np.arange(len(rows), dtype=np.int64) * PAGE_SIZE
            self.owner[rows] = key

    def _rows_of(self, mm: HostUserMm, start: int, end: int) -> npt.NDArray[np.intp]:
        key = self._ids.get(id(mm))
        if key is None:
            return np.empty(0, dtype=np.intp)
        rows = np.flatnonzero((self.owner == key) & (self.addr >= start) & (self.addr < end))
        phys = self.phys
        keep = [r for r in rows if phys.page_maybe_dma_pinned(phys.pfn_of(int(r)))]
        return np.array(keep, dtype=np.intp)

    def overlaps_pins(self, mm: HostUserMm, start: int, end: int) -> bool:
        with self.lock:
            return bool(len(self._rows_of(mm, start, end)))

    def detach(self, mm: HostUserMm, start: int, end: int, *, copy: bool = True) -> int:
        """The program is about to give up ``[start, end)``: copy the pinned frames aside
        (a last refresh, unless ``copy`` is False) and stop following the program there.
        Answers the number of frames detached."""
        with self.lock:
            rows = self._rows_of(mm, start, end)
            if len(rows) and copy:
                self._refresh_rows(rows)
            self.owner[rows] = _NONE
            self.addr[rows] = _NONE
            return len(rows)

    def forget(self, mm: HostUserMm) -> None:
        """The address space is gone (exit, exec): drop its records without touching it."""
        with self.lock:
            key = self._ids.pop(id(mm), None)
            if key is None:
                return
            self.mms.pop(key, None)
            gone = self.owner == key
            self.owner[gone] = _NONE
            self.addr[gone] = _NONE

    # -- vm.PageWatch (engine threads) ------------------------------------------------------
    def covers(self, obj: GemObject) -> bool:
        if not is_userptr(obj):
            return False
        st = obj.private
        return isinstance(st, UserptrState) and self._ids.get(id(st.mm)) is not None

    def begin(self) -> None:
        scope = self._scope
        if scope.fresh is None:
            scope.fresh = np.zeros(self.phys.nr_frames, dtype=np.bool_)
        else:
            scope.fresh[:] = False
        scope.dirty.clear()
        scope.active = True

    def gpu_access(self, flat_off: int, n: int, write: bool, whole: bool) -> None:
        scope = self._scope
        first, last = flat_off >> PAGE_SHIFT, (flat_off + n - 1) >> PAGE_SHIFT
        if scope.active and scope.fresh is not None:
            fresh = scope.fresh[first:last + 1]
            stale = np.flatnonzero(~fresh) + first
            fresh[:] = True
        else:
            stale = np.arange(first, last + 1)
        if len(stale) and not (write and whole):
            stale = stale[self.owner[stale] != _NONE]
            if len(stale):
                self._refresh_rows(stale)
        if write and scope.active:
            scope.dirty.append((flat_off, n))

    def gpu_copy(self, dst_rows: npt.NDArray[np.int64], src_rows: npt.NDArray[np.int64]
                 ) -> bool:
        """Whole pages from one program's memory onto watched frames: read the source
        bytes straight from the program into the destination frames (one move instead of
        refresh + frame copy).  Only when no source frame is fresh in this request (the
        GPU may have written it) and every source frame follows the same program."""
        scope = self._scope
        if not scope.active or scope.fresh is None or scope.fresh[src_rows].any():
            return False
        owner = self.owner[src_rows]
        key = int(owner[0])
        if key == _NONE or (owner != key).any() or (self.owner[dst_rows] == _NONE).any():
            return False
        mm = self.mms.get(key)
        if mm is None:
            return False
        remote = self.addr[src_rows]
        cut = np.flatnonzero((np.diff(remote) != PAGE_SIZE) | (np.diff(dst_rows) != 1)) + 1
        pieces = [(int(remote[a]), int(dst_rows[a]) * PAGE_SIZE, (b - a) * PAGE_SIZE)
                  for a, b in zip(np.concatenate(([0], cut)).tolist(),
                                  np.concatenate((cut, [len(src_rows)])).tolist(), strict=True)]
        try:
            if self._move_split(mm.tgid, pieces, False) != len(src_rows) * PAGE_SIZE:
                return False        # the ordinary path refreshes page by page
        except KernelError:
            return False
        scope.fresh[dst_rows] = True
        for _remote, off, n in pieces:
            scope.dirty.append((off, n))
        return True

    def flush(self) -> None:
        scope = self._scope
        dirty, scope.dirty = scope.dirty, []
        scope.active = False
        for flat_off, n in _coalesce(dirty):
            self._write_back(flat_off, n)

    # -- moving bytes ----------------------------------------------------------------------
    def _refresh_rows(self, rows: npt.NDArray[np.intp]) -> None:
        for key, pieces in self._pieces(rows, 0, PAGE_SIZE, rows * PAGE_SIZE):
            mm = self.mms.get(key)
            if mm is not None:
                self._move(mm.tgid, pieces, write=False)

    def _write_back(self, flat_off: int, n: int) -> None:
        first, last = flat_off >> PAGE_SHIFT, (flat_off + n - 1) >> PAGE_SHIFT
        rows = np.arange(first, last + 1)
        rows = rows[self.owner[rows] != _NONE]
        if not len(rows):
            return
        lo = np.maximum(rows * PAGE_SIZE, flat_off)
        hi = np.minimum((rows + 1) * PAGE_SIZE, flat_off + n)
        for key, pieces in self._pieces(rows, lo - rows * PAGE_SIZE, hi - lo, lo):
            mm = self.mms.get(key)
            if mm is not None and not mm.exited:
                self._move(mm.tgid, pieces, write=True)

    def _pieces(self, rows: npt.NDArray[np.intp], inpage: object, length: object,
                local: npt.NDArray[np.int64]) -> list[tuple[int, list[tuple[int, int, int]]]]:
        """Per owner, ``(user addr, flat offset, n)`` runs contiguous on both sides."""
        owner = self.owner[rows]
        remote = self.addr[rows] + np.asarray(inpage, dtype=np.int64)
        size = np.broadcast_to(np.asarray(length, dtype=np.int64), rows.shape)
        ok = (owner != _NONE) & (remote >= 0)
        owner, remote, size, local = owner[ok], remote[ok], size[ok], local[ok]
        if not len(owner):
            return []
        cut = np.flatnonzero((owner[1:] != owner[:-1]) | (remote[1:] != remote[:-1] + size[:-1])
                             | (local[1:] != local[:-1] + size[:-1])) + 1
        starts = np.concatenate(([0], cut))
        ends = np.concatenate((cut, [len(owner)]))
        out: dict[int, list[tuple[int, int, int]]] = {}
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            total = int(local[e - 1] + size[e - 1] - local[s])
            out.setdefault(int(owner[s]), []).append((int(remote[s]), int(local[s]), total))
        return list(out.items())

    def _move_split(self, pid: int, pieces: list[tuple[int, int, int]], write: bool) -> int:
        """``move_frames``, with a big move cut in two halves that run at once, one on a
        helper worker: a remote move costs a page walk per page of the program (no huge
        pages there), so it is CPU-bound and two cores halve it.  Answers the bytes moved
        (all of them, or less: the caller then finishes page by page)."""
        total = sum(n for _, _, n in pieces)
        if total < _SPLIT_BYTES:
            return move_frames(pid, self.base, pieces, write)
        first, second = _halves(pieces, total // 2 & ~(PAGE_SIZE - 1))
        if self._helper is None:
            with self._helper_lock:
                if self._helper is None:
                    self._helper = Workqueue("host.userframes")
        result: list[int] = []

        def other() -> None:
            try:
                result.append(move_frames(pid, self.base, second, write))
            except KernelError:
                result.append(0)

        work = self._helper.queue(other)
        try:
            done = move_frames(pid, self.base, first, write)
        finally:
            work.wait()
        return done + result[0] if result else done

    def _move(self, pid: int, pieces: list[tuple[int, int, int]], write: bool) -> None:
        try:
            done = self._move_split(pid, pieces, write)
        except KernelError:
            return          # the program is gone: the frames stay as they are
        if done == sum(n for _, _, n in pieces):
            return
        flat = self.phys.flat
        for addr, off, n in pieces:     # finish page by page; what faults stays as it is
            for at in range(0, n, PAGE_SIZE):
                k = min(PAGE_SIZE, n - at)
                try:
                    if write:
                        write_mem(pid, addr + at, flat[off + at:off + at + k])
                    else:
                        flat[off + at:off + at + k] = _read_page(pid, addr + at, k)
                except KernelError:
                    continue


def _halves(pieces: list[tuple[int, int, int]], at: int
            ) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
    """``pieces`` cut ``at`` bytes in (a piece that straddles the cut is cut too)."""
    first: list[tuple[int, int, int]] = []
    second: list[tuple[int, int, int]] = []
    seen = 0
    for addr, off, n in pieces:
        if seen >= at:
            second.append((addr, off, n))
        elif seen + n <= at:
            first.append((addr, off, n))
        else:
            k = at - seen
            first.append((addr, off, k))
            second.append((addr + k, off + k, n - k))
        seen += n
    return first, second


def _coalesce(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``(offset, n)`` ranges sorted and merged where they overlap or touch."""
    out: list[tuple[int, int]] = []
    for off, n in sorted(ranges):
        if out and off <= out[-1][0] + out[-1][1]:
            last_off, last_n = out[-1]
            out[-1] = (last_off, max(last_n, off + n - last_off))
        else:
            out.append((off, n))
    return out


def _read_page(pid: int, addr: int, n: int) -> bytes:
    try:
        return read_mem(pid, addr, n)
    except KernelError:
        return read_forced(pid, addr, n)     # a PROT_WRITE-only page
