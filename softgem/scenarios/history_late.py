"""History rows of the 2020-2023 reviews and fixes (seeds 003 and 004): the fence left by an
-EAGAIN execbuf, and the scatterlist page count truncated to 32 bits.

``eagain-retry-behind-long-batch`` (seed 003, "fence on -EAGAIN"): an execbuf queued behind a
long batch (an in-fence the ``gpu-batch`` thread signals after :data:`~.history.BATCH_S`)
collides with a MAP_FIXED over its userptr, so it answers -EAGAIN and its request is skipped;
the program retries at once.  Where the skipped request's fence stayed in the userptr's
reservation and vma (rework-v4, as posted; and every kernel since, which kept that order),
the retry's submit_init unbinds the stale pages *waiting for that fence*: a fence that
guards no access to any page (its payload never runs), only the long batch it queued behind.
The checker ``submit-init-waits-for-skipped-fence`` watches every blocking wait: a task
holding an object lock (submit_init's unbind) that sleeps on the fence of a request whose
execbuf answered an error fails the run.  The fence of a request that did run (no -EAGAIN)
is the right one to wait for and is not reported.

``huge-userptr-relocation`` (seed 004, "E2BIG on scatterlist overflow"): a read-only userptr
of 2^32 + 1 pages (16 TiB + 4 KiB of untouched memory, the zero page) with a relocation into
its second page.  Before v6.3 get_pages built the page list from the page count truncated to
32 bits (one page, :mod:`softgem.gem.designs.sg_trunc`) and the relocation's page lookup ran
past it (checker ``sg-table-overflow``); v6.8 answers E2BIG.  The model does not run the
2^32 + 1 pins of submit_init (4 billion model steps, and a 32 GiB vector in the kernel): the
scenario installs the vector submit_init would have left, at the object's current notifier
sequence, as a zero-stride view of the zero page (8 bytes), holding no pin; it is taken back
before the object is closed.  Through the whole uAPI v5.15+ kernels never get that far for a
userptr: ``kvmalloc_array`` of the 32 GiB vector fails first (ENOMEM, the INT_MAX limit of
kvmalloc added in v5.15), which the model applies to every design (see
:func:`huge_userptr_errno`).
"""

from __future__ import annotations

import ctypes
import errno
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .. import explore, trace, uapi
from ..abi import I915_USERPTR_READ_ONLY
from ..gpu import sync_file_create
from ..machine import Machine
from ..notifier import mmu_interval_read_begin
from ..posix import MAP_FIXED, MAP_NORESERVE, PROT_READ
from ..sync import Fence, task
from .gem import ANON, RW, Gem
from .history_row import HistoryRow

__all__ = ["FNS_LATE", "HUGE_PAGES", "ROWS_LATE", "eagain_retry_behind_long_batch",
           "huge_userptr_errno", "huge_userptr_relocation", "retry_after_a_batch_that_ran",
           "watch_skipped_fences"]

PAGE = 4096
HUGE_PAGES = (1 << 32) + 1
_STORE = (0x20 << 23) | 2           # MI_STORE_DWORD_IMM, 64-bit address
_BBE = 0x0A << 23
_BATCH_AT = 16 << 20
_TARGET_AT = _BATCH_AT + (1 << 20)
_F48 = uapi.EXEC_OBJECT_SUPPORTS_48B_ADDRESS


def _execbuf(gem: Gem, entries: list[tuple[int, int, list[Any]]], flags: int, *,
             in_fence_fd: int | None = None, retry: bool = False) -> int:
    """EXECBUFFER2 of ``entries`` ``(handle, exec flags, relocation entries)`` in that order;
    0 or -errno (``retry``: loop on EAGAIN/EINTR as drmIoctl does)."""
    osz = ctypes.sizeof(uapi.drm_i915_gem_exec_object2)
    rsz = ctypes.sizeof(uapi.drm_i915_gem_relocation_entry)
    buf = gem.proc.mmap(0, 4096, RW, ANON)
    try:
        objs, at = [], buf + len(entries) * osz
        for i, (handle, eflags, relocs) in enumerate(entries):
            o = uapi.drm_i915_gem_exec_object2(handle=handle, flags=_F48 | eflags,
                                               offset=_TARGET_AT + (i << 20))
            if relocs:
                gem.proc.write(at, b"".join(bytes(r) for r in relocs))
                o.relocs_ptr, o.relocation_count = at, len(relocs)
                at += len(relocs) * rsz
            objs.append(o)
        gem.proc.write(buf, b"".join(bytes(o) for o in objs))
        eb = uapi.drm_i915_gem_execbuffer2(buffers_ptr=buf, buffer_count=len(entries),
                                           flags=flags)
        if in_fence_fd is not None:
            eb.flags |= uapi.I915_EXEC_FENCE_IN
            eb.rsvd2 = in_fence_fd
        return gem._ioctl(uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2, eb, retry)
    finally:
        gem.proc.munmap(buf, 4096)


def _store_batch_first(gem: Gem, target: int, value: int, *, in_fence_fd: int | None = None,
                       retry: bool = False) -> int:
    """A store of ``value`` into ``target`` with the batch first (I915_EXEC_BATCH_FIRST), so
    the target is object 1: rework-v4's submit_done loop (which skips object 0) checks it."""
    words = [_STORE, _TARGET_AT & 0xFFFFFFFF, _TARGET_AT >> 32, value, _BBE, 0]
    batch = gem.create(4096, struct.pack("<6I", *(w & 0xFFFFFFFF for w in words)))
    rel = uapi.drm_i915_gem_relocation_entry(
        target_handle=target, offset=4, presumed_offset=_TARGET_AT + (1 << 20),
        read_domains=uapi.I915_GEM_DOMAIN_RENDER, write_domain=uapi.I915_GEM_DOMAIN_RENDER)
    try:
        return _execbuf(gem, [(batch, 0, [rel]), (target, uapi.EXEC_OBJECT_WRITE, [])],
                        uapi.I915_EXEC_BLT | uapi.I915_EXEC_BATCH_FIRST,
                        in_fence_fd=in_fence_fd, retry=retry)
    finally:
        gem.close(batch)


def _held(t: Any) -> list[str]:
    st = t.local.get("lockdep")
    return [h.cls.name for h in st.held] if st is not None else []


@contextmanager
def watch_skipped_fences() -> Iterator[None]:
    """The checker ``submit-init-waits-for-skipped-fence`` for the running schedule: a task
    holding an object lock (submit_init's unbind) that sleeps on the fence of a request whose
    execbuf answered an error (its payload skipped) fails the run."""
    from .history import BATCH_S

    ex = explore.current_execution() if explore.exploring() else None
    skipped: dict[str, str] = {}        # wait queue name -> fence name

    def on_event(ev: trace.Event) -> None:
        if ev.category == "gpu" and ev.name == "execbuf" and ev.fields.get("error"):
            name = f"{ev.fields['engine']}#{ev.fields['seqno']}"
            skipped[f"fence {name}"] = name

    def blocked(t: Any) -> None:
        name = getattr(t.wait_obj, "name", "")
        if name in skipped and "gem.object" in _held(t) and ex is not None:
            ex.fail("submit-init-waits-for-skipped-fence",
                    f"{t.name} waits, holding the object lock (submit_init's unbind of the "
                    f"invalidated pages), for fence {skipped[name]} of a request whose "
                    f"execbuf answered -EAGAIN: its payload is skipped, it guards no page, "
                    f"it only queued behind the {BATCH_S * 1e3:.0f} ms batch")

    if ex is not None:
        ex.block_observers.append(blocked)
    unsub = trace.subscribe(on_event)
    try:
        yield
    finally:
        unsub()


def _gated_fd(gem: Gem) -> tuple[int, Callable[[], None]]:
    """An in-fence fd and the ``gpu-batch`` body that signals it after the long batch."""
    from .history import BATCH_S

    gate = Fence("long batch gate")
    fd = gem.proc.fd_install(sync_file_create(gate))

    def batch() -> None:
        task.sleep("gpu.batch", BATCH_S)
        gate.signal()
    return fd, batch


def eagain_retry_behind_long_batch(m: Machine) -> None:
    """An execbuf behind a long batch answers -EAGAIN (MAP_FIXED over its userptr); does
    the retry's submit_init wait for the skipped request's fence?"""
    gem = Gem(m.spawn("retry"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    gem.proc.write(ptr, b"\x11" * 4)
    bo = gem.userptr(ptr, PAGE)
    fd, batch = _gated_fd(gem)
    out: list[int] = []

    def submit() -> None:
        out.append(_store_batch_first(gem, bo, 0xAB, in_fence_fd=fd))
        if out[0] == -errno.EAGAIN:
            out.append(_store_batch_first(gem, bo, 0xCD, retry=True))

    with watch_skipped_fences():
        explore.spawn(submit, "execbuf")
        explore.spawn(lambda: gem.proc.mmap(ptr, PAGE, RW, ANON | MAP_FIXED), "map-fixed")
        explore.spawn(batch, "gpu-batch")
        explore.join_all()
    gem.proc.close(fd)
    assert out and out[0] in (0, -errno.EAGAIN) and all(e == 0 for e in out[1:]), out
    gem.wait(bo)
    gem.close(bo)


def retry_after_a_batch_that_ran(m: Machine) -> None:
    """The checker's negative: the execbuf behind the long batch succeeds, then MAP_FIXED,
    then the next execbuf's submit_init waits for that batch's fence -- the right one (its
    payload writes the old pages): not reported."""
    gem = Gem(m.spawn("ran"))
    ptr = gem.proc.mmap(0, PAGE, RW, ANON)
    bo = gem.userptr(ptr, PAGE)
    fd, batch = _gated_fd(gem)
    with watch_skipped_fences():
        assert _store_batch_first(gem, bo, 0xAB, in_fence_fd=fd) == 0
        explore.spawn(batch, "gpu-batch")
        gem.proc.mmap(ptr, PAGE, RW, ANON | MAP_FIXED)   # before v6.8: waits for the batch
        assert _store_batch_first(gem, bo, 0xCD, retry=True) == 0
        explore.join_all()
    gem.proc.close(fd)
    gem.wait(bo)
    gem.close(bo)


def _huge_userptr(gem: Gem) -> tuple[int, int]:
    size = HUGE_PAGES * PAGE
    ptr = gem.proc.mmap(0, size, PROT_READ, ANON | MAP_NORESERVE)
    return ptr, gem.userptr(ptr, size, I915_USERPTR_READ_ONLY)


def _reloc_into_page_1(gem: Gem, bo: int) -> int:
    """An execbuf whose userptr object carries a relocation at offset 4096 (its page 1)."""
    batch = gem.create(4096, struct.pack("<2I", _BBE, 0))
    rel = uapi.drm_i915_gem_relocation_entry(target_handle=batch, offset=PAGE,
                                             presumed_offset=1)      # never valid: write
    try:
        return _execbuf(gem, [(bo, 0, [rel]), (batch, 0, [])], uapi.I915_EXEC_BLT)
    finally:
        gem.close(batch)


def huge_userptr_relocation(m: Machine) -> None:
    """A relocation into page 1 of a 2^32 + 1-page userptr, its page vector installed."""
    gem = Gem(m.spawn("huge"))
    ptr, bo = _huge_userptr(gem)
    overflow: list[dict[str, int]] = []

    def observer(kind: str, _obj: object, detail: object) -> None:
        if kind == "sg.overflow" and isinstance(detail, dict):
            overflow.append(detail)
            explore.current_execution().fail("sg-table-overflow",
                         f"relocation write to page {detail['page']} of a "
                         f"{detail['object_pages']}-page userptr whose sg table has "
                         f"{detail['entries']} entr{'y' if detail['entries'] == 1 else 'ies'}"
                         " (the page count truncated to 32 bits): the page lookup runs past "
                         "the table (out of bounds)")

    if explore.exploring():
        explore.current_execution().observers.append(observer)
    drm: Any = gem.proc.files.get(gem.fd)
    obj = drm.file.lookup(bo)
    try:
        st = obj.private
        with obj.lock:          # what submit_init leaves before get_pages (no pin taken)
            st.pvec = np.broadcast_to(np.int64(m.phys.zero_pfn), (HUGE_PAGES,))
            st.notifier_seq = mmu_interval_read_begin(st.notifier)
            st.page_ref = 1
        err = _reloc_into_page_1(gem, bo)
        assert err == -errno.E2BIG or overflow, f"execbuf of the huge userptr: {err}"
    finally:
        with obj.lock:          # take the vector back: it holds no pin to drop
            st.page_ref += 1    # so that no drop below unpins the (unpinned) vector
            obj.unbind(wait=True)
            if obj.pages is not None:
                obj.put_pages_locked()
            st.pvec, st.page_ref = None, 0
        obj.put()
        gem.proc.files.put(drm)
    gem.close(bo)
    gem.proc.munmap(ptr, HUGE_PAGES * PAGE)


def huge_userptr_errno(m: Machine) -> int:
    """The whole uAPI path (submit_init pins): the errno of an execbuf of the huge userptr
    (ENOMEM in every design: the vector's kvmalloc fails before get_pages)."""
    gem = Gem(m.spawn("huge-uapi"))
    ptr, bo = _huge_userptr(gem)
    try:
        return _reloc_into_page_1(gem, bo)
    finally:
        gem.close(bo)
        gem.proc.munmap(ptr, HUGE_PAGES * PAGE)


FNS_LATE: dict[str, Callable[[Machine], object]] = {
    "eagain-retry-behind-long-batch": eagain_retry_behind_long_batch,
    "huge-userptr-relocation": huge_userptr_relocation,
}


ROWS_LATE: list[HistoryRow] = [
    HistoryRow("003", "review: fence on -EAGAIN", "rework-v4", "v5.13-nofence",
               "eagain-retry-behind-long-batch", "pct", 60,
               "submit-init-waits-for-skipped-fence", 2,
               "the retry's submit_init waits for the skipped request's fence (and the "
               "batch it queued behind); merged kernels kept it (v5.13-nofence: never "
               "merged)"),
    HistoryRow("004", "E2BIG on scatterlist overflow", "v5.14", "v6.8",
               "huge-userptr-relocation", "pct", 2, "sg-table-overflow", 1,
               "a 2^32 + 1-page userptr gets a 1-page sg table; a relocation into its "
               "page 1 runs past it (v6.3+: E2BIG)"),
]
