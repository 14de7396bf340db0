"""EXECBUFFER2: look the objects up, give each a GPU address, relocate, build and submit a
request (``i915_gem_execbuffer.c``).

The phases, in the kernel's order; the first failure's errno wins and nothing after it runs
(object and relocation ladders: :mod:`.execbuf_args`, :mod:`.reloc`; step 10's fences and
activity: :mod:`.execbuf_gpu`):

==  ===========================================================================  ==========
#   step                                                                         errors
==  ===========================================================================  ==========
1   I915_EXEC_SECURE: no secure batches on gen9 (gen11+: ENODEV)                  EPERM
2   extension chain / fence array (:mod:`.exec_fence`)                           EINVAL...
3   FENCE_IN with FENCE_SUBMIT; an in-fence fd that is not a sync_file           EINVAL
3b  FENCE_OUT: the out-fence fd reserved (nothing is built without one)          EMFILE
4   context ``rsvd1`` unknown / ring bits naming no engine                       ENOENT/EINVAL
5   per object, in order: lookup (ENOENT), ``validate_exec_object`` and the
    duplicate check (EINVAL), the batch's checks (EINVAL), ``submit_init`` of a
    userptr (EFAULT, EAGAIN as it returns them)
6   the context is banned                                                        EIO
7   relocation arrays copied in (before any lock: they may fault)                EFAULT
8   placement (``execbuf_args.place``)                                           ENOSPC...
9   relocations (NO_RELOC unset, or an object moved)                             see reloc
10  request: in-fence and implicit fences awaited, its fence in every object's
    reservation (WRITE for EXEC_OBJECT_WRITE, else READ); then ``submit_done``
    per userptr: a collision marks it EAGAIN + skipped, no out-fence             EAGAIN
==  ===========================================================================  ==========

Userptrs (semantics.md 5): one that lost its pages before binding (step 8's pin answers
EAGAIN) is re-inited internally; the fault point ``execbuf.before_submit_done`` (hook args:
the execbuf, the request) runs between building the request and ``submit_done``.

Locks, as the kernel's ww transaction: steps 8-10 hold every object's lock (trylock all,
else drop all and sleep on the contended one), so another thread's ``submit_init`` or
SET_DOMAIN waits for this execbuf instead of finding a vma pinned.  Nothing touching user
memory or revalidating a userptr runs under them: arrays are copied in before and presumed
offsets stored after; work that must run unlocked (a re-init, arrays read late under
NO_RELOC) leaves the locked phase and retries it (the kernel's slow path).  Pins last for
the locked phase; the request keeps the bindings through ``move_to_active``.  Rejected:
pins without the locks (a concurrent ``submit_init`` found the vma pinned: EBUSY) and user
copies under them (mmap_lock after the object lock inverts the lock order).
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from .. import trace
from ..errors import EAGAIN, EINVAL, EIO, ENODEV, ENOENT, ENOSPC, EPERM, KernelError
from . import execbuf_args as A
from . import reloc as R
from .exec_fence import EbFence, collect_fences, put_fences, signal_fences
from .execbuf_gpu import move_to_gpu
from .file_priv import lookup_context
from .request import Request
from .sync_file import FdTask, SyncFile, sync_file_create, sync_file_get_fence

if TYPE_CHECKING:
    from ..gem import DrmFile, GemObject
    from ..sync import Fence
    from .context import Context
    from .engine import Engine
    from .gpu import Gpu

__all__ = ["EXEC_HAS_RELOC", "ExecTask", "Execbuf", "execbuffer2", "execbuffer2_ioctl"]

#: ``__EXEC_HAS_RELOC``: an internal flag bit (cleared before the flags go back to the user).
EXEC_HAS_RELOC = 1 << 31
O_CLOEXEC = 0o2000000
_USERPTR_REDO = 16                    # internal submit_init rounds before giving up (EAGAIN)


class ExecTask(FdTask, Protocol):
    """The calling process: its address space (``mm``) and its fd table."""

    mm: Any


class _Unlocked(Exception):
    """Raised in the locked phase: run ``work`` with no object lock held, then retry."""

    def __init__(self, work: Callable[[], object]) -> None:
        super().__init__("leave the locked phase")
        self.work = work


class Execbuf:
    """The state of one EXECBUFFER2 call (``struct i915_execbuffer``)."""

    def __init__(self, gpu: Gpu, file: DrmFile, task: ExecTask, args: A.ExecArgs,
                 objects: Sequence[A.ExecObject]) -> None:
        self.gpu, self.file, self.task, self.mm = gpu, file, task, task.mm
        self.args = args
        self.exec = objects
        self.vmas: list[A.EbVma] = []
        self._by_obj: dict[int, A.EbVma] = {}
        self._by_handle: dict[int, A.EbVma] = {}
        self.batch: A.EbVma | None = None
        self.batch_len = 0
        self.in_fence: Fence | None = None
        self.ctx: Context | None = None
        self.engine: Engine | None = None
        self.request: Request | None = None
        self._locked: list[GemObject] = []
        self._presumed: list[tuple[int, R.Presumed]] = []
        self.out_fd = -1              # the reserved out-fence descriptor, until installed
        self.fences: list[EbFence] = []   # FENCE_ARRAY / timeline fence entries

    # -- the ioctl body (i915_gem_do_execbuffer) -------------------------------------------------
    def run(self) -> SyncFile | None:
        args = self.args
        if not args.flags & A.I915_EXEC_NO_RELOC:
            args.flags |= EXEC_HAS_RELOC
        if args.flags & A.I915_EXEC_SECURE:
            if self.gpu.platform.graphics_ver >= 11:
                raise ENODEV("no secure batches on gen11+")
            raise EPERM("secure batches are disabled (enable_secure_batch=0)")
        self.fences = collect_fences(self.mm, self.file, args.flags, args.cliprects_ptr,
                                     args.num_cliprects)
        fd = A.in_fence_fd(args)
        if fd is not None:
            self.in_fence = sync_file_get_fence(self.task, fd)
        if args.flags & A.I915_EXEC_FENCE_OUT:
            # Reserved before anything is built: no fd (EMFILE) means no request at all.
            self.out_fd = self.task.get_unused_fd_flags(O_CLOEXEC)
        self.ctx = lookup_context(self.file, args.context_id)
        key = A.select_engine(args.flags, self.ctx.user_engines)
        self.engine = self.gpu.engines.get(key) if key is not None else None
        if self.engine is None:
            raise EINVAL(f"no engine for ring flags {args.flags & 0x3F:#x}")
        self._lookup_vmas(self.ctx)
        if self.ctx.banned:
            raise EIO(f"context {self.ctx.id} is banned")
        if args.flags & EXEC_HAS_RELOC:
            self._read_relocs()
        rq = self._locked_phase()
        return self._submit(rq)

    def _locked_phase(self) -> Request:
        """Steps 8-10 under the object locks; retried after work that must run unlocked."""
        for _ in range(_USERPTR_REDO):
            self._lock_objects()
            try:
                self._reserve()
                if self.args.flags & EXEC_HAS_RELOC:
                    self._relocate()
                return self._build()
            except _Unlocked as out:
                work = out.work
            finally:
                self._unpin_all()
                self._unlock_objects()
            work()
        raise EAGAIN("userptr kept losing its pages")

    def _lock_objects(self) -> None:
        """Every object's lock, ww-style: trylock in order; on contention drop them all,
        wait for the contended one alone, retry (no lock-order cycle, no lockdep nesting)."""
        objs = sorted({ev.obj.id: ev.obj for ev in self.vmas}.values(), key=lambda o: o.id)
        while True:
            for obj in objs:
                if not obj.lock.trylock():
                    self._unlock_objects()
                    with obj.lock:          # sleep until the holder is done
                        pass
                    break
                self._locked.append(obj)
            else:
                return

    def _unlock_objects(self) -> None:
        while self._locked:
            self._locked.pop().lock.unlock()

    # -- objects (eb_lookup_vmas, eb_validate_vma, eb_add_vma) -------------------------------
    def _lookup_vmas(self, ctx: Context) -> None:
        vm = ctx.vm
        if vm is None:        # the context was closed meanwhile (i915_vm_tryget failed)
            raise ENOENT(f"context {ctx.id} has no address space")
        count = len(self.exec)
        for i, entry in enumerate(self.exec):
            obj = self.file.lookup(entry.handle)
            ev = A.EbVma(entry, obj, vm.instance(obj))
            self.vmas.append(ev)
            self._validate(ev)
            first = bool(self.args.flags & A.I915_EXEC_BATCH_FIRST)
            if (i == 0) if first else (i == count - 1):
                self._add_batch(ev)
            if self.gpu.dev.userptr_design.is_userptr(ev.obj):
                self.gpu.dev.userptr_design.submit_init(ev.obj, self.mm)
                ev.userptr = True

    def _validate(self, ev: A.EbVma) -> None:
        e = ev.entry
        A.validate_exec_object(e)
        if ev.obj.id in self._by_obj:
            raise EINVAL(f"object of handle {e.handle} appears more than once")
        self._by_obj[ev.obj.id] = ev
        self._by_handle.setdefault(e.handle, ev)
        e.offset = A.noncanonical(e.offset)
        ev.flags &= ~A.EXEC_OBJECT_NEEDS_FENCE        # no fence registers for gen4+

    def _add_batch(self, ev: A.EbVma) -> None:
        args, size = self.args, ev.vma.size
        if ev.entry.relocation_count and not ev.flags & A.EXEC_OBJECT_PINNED:
            ev.flags |= A.NEEDS_BIAS
        if ev.flags & A.EXEC_OBJECT_WRITE:
            raise EINVAL("self-modifying batch buffer (EXEC_OBJECT_WRITE on the batch)")
        start, length = args.batch_start_offset, args.batch_len
        if start >= size or length > size - start:
            raise EINVAL(f"batch {start:#x}+{length:#x} outside its {size:#x}-byte object")
        self.batch_len = length or size - start
        self.batch = ev

    # -- placement (eb_validate_vmas, eb_reserve) --------------------------------------------
    def _reserve(self) -> None:
        try:
            for ev in self.vmas:
                self._pin(ev)
        except ENOSPC:
            # Pass 1 of eb_reserve: drop every pin, then place the fussiest first.
            self._unpin_all()
            fixed = [ev for ev in self.vmas if ev.flags & A.EXEC_OBJECT_PINNED]
            for ev in fixed + [ev for ev in self.vmas if ev not in fixed]:
                self._pin(ev)

    def _pin(self, ev: A.EbVma) -> None:
        """Pin one object; a userptr that lost its pages is revalidated unlocked (5(b))."""
        fresh = not ev.vma.bound
        try:
            A.place(ev)
        except EAGAIN:
            if not ev.userptr:
                raise
            obj, mm, design = ev.obj, self.mm, self.gpu.dev.userptr_design
            raise _Unlocked(lambda: design.submit_init(obj, mm)) from None
        ev.pinned = True
        if fresh:
            nbound = sum(1 for v in self.gpu.vmas_of(ev.obj) if v.bound)
            self.gpu.dev.userptr_design.vma_bound(ev.obj, nbound)
        e = ev.entry
        if e.offset != ev.vma.start:
            e.offset, e.updated = ev.vma.start, True
            self.args.flags |= EXEC_HAS_RELOC

    def _unpin_all(self) -> None:
        for ev in self.vmas:
            if ev.pinned:
                ev.vma.unpin()
                ev.pinned = False

    # -- relocations (eb_relocate_parse) -----------------------------------------------------
    def _target(self, handle: int) -> R.RelocTarget | None:
        if self.args.flags & A.I915_EXEC_HANDLE_LUT:
            return self.vmas[handle] if handle < len(self.vmas) else None
        return self._by_handle.get(handle)

    def _read_relocs(self) -> None:
        """Copy every relocation array in (no lock held: the arrays may fault)."""
        for ev in self.vmas:
            e = ev.entry
            if e.relocation_count and ev.relocs is None:
                ev.relocs = R.read_relocs(self.mm, e.relocs_ptr, e.relocation_count)

    def _relocate(self) -> None:
        """Apply the copied arrays under the locks; a refused entry invalidates every
        presumed offset once the locks are dropped, then fails the ioctl."""
        todo = [ev for ev in self.vmas if ev.entry.relocation_count]
        if any(ev.relocs is None for ev in todo):    # NO_RELOC, yet an object moved
            raise _Unlocked(self._read_relocs)
        self._presumed = []
        try:
            for ev in todo:
                assert ev.relocs is not None
                updates = R.apply_relocs(ev.obj, ev.vma.size, ev.relocs, self._target)
                self._presumed.append((ev.entry.relocs_ptr, updates))
        except KernelError as err:
            self.args.flags &= ~EXEC_HAS_RELOC     # the user's offsets stay as they were
            arrays = [(ev.entry.relocs_ptr, ev.entry.relocation_count) for ev in todo]
            raise _Unlocked(partial(_fail_relocations, self.mm, arrays, err)) from None

    # -- the request (eb_requests_create, eb_move_to_gpu, eb_submit) -------------------------
    def _build(self) -> Request:
        """The request, its dependencies and its fences in every reservation (locked)."""
        ctx, engine, batch = self.ctx, self.engine, self.batch
        assert ctx is not None and engine is not None and batch is not None
        assert ctx.vm is not None
        rq = self.request = Request(ctx, engine, batch.vma.start + self.args.batch_start_offset,
                                    self.batch_len, vm=ctx.vm)
        if self.in_fence is not None:
            rq.await_fence(self.in_fence)
        for f in self.fences:                  # await_fence_array
            if f.fence is not None:
                rq.await_fence(f.fence)
        move_to_gpu(rq, self.vmas)
        return rq

    def _submit(self, rq: Request) -> SyncFile | None:
        """``submit_done``, then the request goes to its engine whatever happened (its fences
        are in reservations already), then the presumed offsets and the out-fence."""
        err = errno.EAGAIN
        try:
            self.gpu.dev.faults.run("execbuf.before_submit_done", self, rq)
            err = self._submit_done()
        finally:
            if err:
                rq.set_error_once(err)
                rq.skip_payload = True
                if err == errno.EAGAIN and not getattr(self.gpu.dev.userptr_design,
                                                       "fence_on_eagain", True):
                    for ev in self.vmas:       # seed 003's review point (v5.13-nofence)
                        if ev.userptr:
                            ev.obj.resv.remove_fence(rq.fence)
                            ev.vma._retire(rq.fence)
            if trace.enabled:
                trace.emit("gpu", "execbuf", ctx=rq.ctx.id, engine=rq.engine.name,
                           seqno=rq.seqno, objects=len(self.vmas), error=err)
            rq.engine.submit(rq)
            signal_fences(self.fences, rq.fence)   # on the error path too, as the kernel
        for ptr, updates in self._presumed:
            R.write_presumed(self.mm, ptr, updates)
        if err == errno.ENOENT:
            raise ENOENT("the context was closed during the execbuf")
        if err:
            raise EAGAIN("a userptr was invalidated while the request was built")
        if self.out_fd < 0:
            return None
        out = sync_file_create(rq.fence)
        fd, self.out_fd = self.out_fd, -1
        fd = self.task.fd_install_reserved(fd, out)
        self.args.rsvd2 = (self.args.rsvd2 & 0xFFFFFFFF) | (fd << 32)
        return out

    def _submit_done(self) -> int:
        """``i915_gem_object_userptr_submit_done`` for each userptr (EAGAIN), then the
        closed-context check of ``eb_request_add`` (ENOENT); 0 when all is well."""
        assert self.ctx is not None
        if self.ctx.closed:
            return errno.ENOENT
        if any(ev.userptr for ev in self.vmas):
            try:
                self.gpu.dev.userptr_design.submit_done_all([ev.obj for ev in self.vmas])
            except EAGAIN:
                return errno.EAGAIN
        return 0

    # -- teardown (eb_release_vmas) ------------------------------------------------------------
    def release(self) -> None:
        self._unpin_all()
        self._unlock_objects()
        if self.out_fd >= 0:          # failed after the reservation: put_unused_fd
            self.task.put_unused_fd(self.out_fd)
            self.out_fd = -1
        put_fences(self.fences)
        for ev in self.vmas:
            ev.obj.put()
        self.vmas.clear()


def _fail_relocations(mm: A.UserMemory, arrays: list[tuple[int, int]],
                      err: KernelError) -> None:
    """The slow path's copy marks every presumed offset -1, then the ioctl fails the same
    way (unlocked work of the locked phase)."""
    R.invalidate_presumed(mm, arrays)
    raise err


def execbuffer2(gpu: Gpu, file: DrmFile, task: ExecTask, args: A.ExecArgs,
                objects: Sequence[A.ExecObject], *, wr: bool = True) -> SyncFile | None:
    """``i915_gem_do_execbuffer``: run ``objects`` (already copied in) as ``args`` says;
    returns the out-fence's sync_file (its fd is in ``args.rsvd2 >> 32``) or None.  ``wr``
    changes nothing here (only the ioctl layer's copy-back of ``rsvd2`` differs).  Raises the
    first failing step's errno; on EAGAIN the request was submitted, marked and skipped."""
    eb = Execbuf(gpu, file, task, args, objects)
    try:
        return eb.run()
    finally:
        eb.release()


def execbuffer2_ioctl(gpu: Gpu, file: DrmFile, task: ExecTask, args: A.ExecArgs, *,
                      wr: bool = True) -> SyncFile | None:
    """``i915_gem_execbuffer2_ioctl``: the count and flag checks, the copy of the object
    array from ``args.buffers_ptr``, the execbuf, then the updated offsets copied back into
    the user's array (unless relocation failed) and the internal flags cleared."""
    A.check_buffer_count(args.buffer_count)
    A.check_execbuffer(args)
    objects = A.read_exec_objects(task.mm, args.buffers_ptr, args.buffer_count)
    try:
        return execbuffer2(gpu, file, task, args, objects, wr=wr)
    finally:
        if args.flags & EXEC_HAS_RELOC:
            A.write_back_offsets(task.mm, args.buffers_ptr, objects)
        args.flags &= ~A.I915_EXEC_UNKNOWN_FLAGS
