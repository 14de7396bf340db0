"""A file's GPU state (``drm_i915_file_private``): its contexts and VM ids, and the ioctls
that manage them (CONTEXT_CREATE/DESTROY/GETPARAM/SETPARAM, VM_CREATE/DESTROY).

Made on first use and kept in ``file.driver_priv``.  Context ids and VM ids are each
allocated lowest-free-first from 1 (the kernel's ``XA_FLAGS_ALLOC1`` xarrays); context id 0
is the default context, made final at once.  Proto-contexts share the id space.

The functions take plain arguments (file, ids, the ioctl's fields) and, where the uAPI
passes user pointers (create extensions, the engine map, SSEU), the caller's address space
as ``mm``; they raise KernelError subclasses in the kernel's order.

Address-space references: a context holds one on its space; each VM id holds one
(``Gpu.vm_get``/``vm_put``); the space is closed -- its vmas unbound once idle -- when the
last goes.  Lock order: ``GpuFile.lock`` ("gpu.file_contexts", the proto-context lock) ->
``Context.lock`` -> ``gpu.lock``.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from .. import trace
from ..errors import E2BIG, EFAULT, EINVAL, EIO, ENODEV, ENOENT, SimBug
from ..sync import Mutex
from .context import I915_CLIENT_SCORE_BANNED, Context, UserMemory

if TYPE_CHECKING:
    from ..gem import DrmFile
    from .gpu import Gpu
    from .vm import AddressSpace

__all__ = [
    "CONTEXT_CREATE_FLAGS_SINGLE_TIMELINE", "CONTEXT_CREATE_FLAGS_USE_EXTENSIONS", "GpuFile",
    "context_create", "context_destroy", "context_getparam", "context_setparam",
    "file_close", "file_spaces", "file_state", "get_reset_stats", "lookup_context",
    "vm_create", "vm_destroy",
]

CONTEXT_CREATE_FLAGS_USE_EXTENSIONS = 1 << 0
CONTEXT_CREATE_FLAGS_SINGLE_TIMELINE = 1 << 1
_CREATE_FLAGS_UNKNOWN = -(CONTEXT_CREATE_FLAGS_SINGLE_TIMELINE << 1) & 0xFFFFFFFF
_EXT_SETPARAM, _EXT_CLONE = 0, 1

# struct i915_user_extension {u64 next_extension; u32 name; u32 flags; u32 rsvd[4];}
_EXT_NEXT, _EXT_NAME, _EXT_FLAGS, _EXT_RSVD = 0, 8, 12, 16
_EXT_STACKDEPTH = 512
# drm_i915_gem_context_create_ext_setparam: the extension, then {u32 ctx_id; u32 size;
# u64 param; u64 value}
_SETPARAM_EXT = struct.Struct("<QII16xIIQQ")


class GpuFile:
    """Contexts and VM ids of one open file."""

    __slots__ = ("ban_score", "contexts", "file", "gpu", "lock", "name", "vms")

    def __init__(self, gpu: Gpu, file: DrmFile) -> None:
        self.gpu = gpu
        self.file = file
        self.name = f"file{gpu.next_file_no()}"
        self.lock = Mutex("gpu.file_contexts")
        self.contexts: dict[int, Context] = {}
        self.vms: dict[int, AddressSpace] = {}
        self.ban_score = 0
        default = Context(gpu, file, vm=None, fpriv=self)
        default.id = 0
        default.finalize()
        self.contexts[0] = default

    def add_ban_score(self, score: int) -> None:
        with self.gpu.lock:
            self.ban_score += score

    def banned(self) -> bool:
        return self.ban_score >= I915_CLIENT_SCORE_BANNED

    # -- VM ids (callers may hold a Context.lock, so take only gpu.lock here) --------------
    def vm_lookup(self, vm_id: int) -> AddressSpace:
        """The space behind ``vm_id`` with a new reference (ENOENT if none)."""
        with self.gpu.lock:
            vm = self.vms.get(vm_id)
            if vm is None:
                raise ENOENT(f"vm id {vm_id}")
            vm.refs += 1
            return vm

    def vm_install(self, vm: AddressSpace) -> int:
        """Give ``vm`` a new id in this file (taking a reference); returns the id."""
        with self.gpu.lock:
            vm_id = _lowest_free(self.vms)
            self.vms[vm_id] = vm
            vm.refs += 1
            return vm_id


def _lowest_free(table: dict[int, Any]) -> int:
    n = 1
    while n in table:
        n += 1
    return n


def file_state(gpu: Gpu, file: DrmFile) -> GpuFile:
    """The file's GPU state, made (with its default context) on first use."""
    fpriv = file.driver_priv
    if fpriv is None:
        with gpu.file_lock:
            fpriv = file.driver_priv
            if fpriv is None:
                fpriv = file.driver_priv = GpuFile(gpu, file)
    if not isinstance(fpriv, GpuFile):
        raise SimBug(f"{file!r}.driver_priv is {fpriv!r}")
    return fpriv


def _gpu_of(file: DrmFile) -> Gpu:
    from .gpu import Gpu

    gpu = file.dev.gpu
    if not isinstance(gpu, Gpu):
        raise ENODEV("the device has no GPU attached")
    return gpu


# -- contexts -----------------------------------------------------------------------------
def lookup_context(file: DrmFile, ctx_id: int) -> Context:
    """``i915_gem_context_lookup``: the context, finalized; ENOENT if unknown."""
    fpriv = file_state(_gpu_of(file), file)
    with fpriv.lock:
        ctx = fpriv.contexts.get(ctx_id)
        if ctx is None:
            raise ENOENT(f"context {ctx_id}")
        ctx.finalize()
    return ctx


def context_create(gpu: Gpu, file: DrmFile, flags: int = 0, extensions: int = 0, *,
                   mm: UserMemory | None = None, privileged: bool = False) -> int:
    """CONTEXT_CREATE(_EXT): a new proto-context; returns its id.

    Raises: EINVAL (unknown flags, a bad extension), EIO (GPU wedged, file banned),
    EFAULT (unreadable extension), E2BIG (an extension chain longer than 512), and the
    errors of each SETPARAM extension.
    """
    if flags & _CREATE_FLAGS_UNKNOWN:
        raise EINVAL(f"unknown context create flags {flags:#x}")
    if gpu.wedged:
        raise EIO("the GPU is terminally wedged")
    fpriv = file_state(gpu, file)
    if fpriv.banned():
        raise EIO("this client is banned from creating contexts")
    ctx = Context(gpu, file, vm=None, fpriv=fpriv,
                  single_timeline=bool(flags & CONTEXT_CREATE_FLAGS_SINGLE_TIMELINE))
    try:
        if flags & CONTEXT_CREATE_FLAGS_USE_EXTENSIONS:
            _create_extensions(ctx, extensions, mm, privileged)
    except BaseException:
        ctx.close()
        raise
    with fpriv.lock:
        ctx.id = _lowest_free(fpriv.contexts)
        fpriv.contexts[ctx.id] = ctx
    if trace.enabled:
        trace.emit("gpu", "context_proto", ctx=ctx.id, flags=flags)
    return ctx.id


def _create_extensions(ctx: Context, ext: int, mm: UserMemory | None,
                       privileged: bool) -> None:
    """``i915_user_extensions`` over the create table: SETPARAM, and CLONE (refused)."""
    if ext and mm is None:
        raise EFAULT("no user memory to read extensions from")
    depth = _EXT_STACKDEPTH
    while ext:
        assert mm is not None
        if depth == 0:
            raise E2BIG("extension chain too long")
        depth -= 1
        for off in (_EXT_FLAGS, *range(_EXT_RSVD, _EXT_RSVD + 16, 4)):
            if _get_u32(mm, ext + off):
                raise EINVAL("extension flags/rsvd must be zero")
        name = _get_u32(mm, ext + _EXT_NAME)
        if name != _EXT_SETPARAM:
            raise EINVAL(f"context create extension {name}")
        raw = mm.copy_from_user(ext, _SETPARAM_EXT.size)
        _, _, _, ctx_id, size, param, value = _SETPARAM_EXT.unpack(raw)
        if ctx_id:
            raise EINVAL("create-time setparam with a ctx_id")
        ctx.setparam(param, size, value, mm=mm, privileged=privileged)
        (ext,) = struct.unpack("<Q", mm.copy_from_user(ext + _EXT_NEXT, 8))


def _get_u32(mm: UserMemory, addr: int) -> int:
    (value,) = struct.unpack("<I", mm.copy_from_user(addr, 4))
    return int(value)


def context_destroy(gpu: Gpu, file: DrmFile, ctx_id: int, pad: int = 0) -> None:
    """CONTEXT_DESTROY: EINVAL for a non-zero pad, ENOENT for id 0 or an unknown id."""
    if pad:
        raise EINVAL("pad must be zero")
    if not ctx_id:
        raise ENOENT("the default context cannot be destroyed")
    fpriv = file_state(gpu, file)
    with fpriv.lock:
        ctx = fpriv.contexts.pop(ctx_id, None)
    if ctx is None:
        raise ENOENT(f"context {ctx_id}")
    ctx.close()
    gpu.reap()


def context_getparam(gpu: Gpu, file: DrmFile, ctx_id: int, param: int, size: int = 0,
                     value: int = 0, *, mm: UserMemory | None = None) -> tuple[int, int]:
    """CONTEXT_GETPARAM: the (size, value) to write back; ENOENT for an unknown context
    (looking a proto-context up finalizes it), EINVAL for an unreadable param."""
    ctx = lookup_context(file, ctx_id)
    return ctx.getparam(param, size, value, mm=mm)


def context_setparam(gpu: Gpu, file: DrmFile, ctx_id: int, param: int, size: int = 0,
                     value: int = 0, *, mm: UserMemory | None = None,
                     privileged: bool = False) -> int:
    """CONTEXT_SETPARAM: the size to write back; ENOENT for an unknown context.  A
    proto-context is *not* finalized by it (so VM and ENGINES may still be set)."""
    fpriv = file_state(gpu, file)
    with fpriv.lock:
        ctx = fpriv.contexts.get(ctx_id)
        if ctx is None:
            raise ENOENT(f"context {ctx_id}")
        if not ctx.finalized:
            return ctx.setparam(param, size, value, mm=mm, privileged=privileged)
    return ctx.setparam(param, size, value, mm=mm, privileged=privileged)


def get_reset_stats(gpu: Gpu, file: DrmFile, ctx_id: int, flags: int = 0, pad: int = 0, *,
                    privileged: bool = False) -> tuple[int, int, int]:
    """GET_RESET_STATS: (reset_count, batch_active, batch_pending); EINVAL for flags or
    pad, ENOENT for an unknown context.  The reset count is reported to admins only."""
    if flags or pad:
        raise EINVAL("flags and pad must be zero")
    ctx = lookup_context(file, ctx_id)
    resets = gpu.resets() if privileged else 0
    return resets, ctx.guilty_count, 0


# -- VMs ----------------------------------------------------------------------------------
def vm_create(gpu: Gpu, file: DrmFile, flags: int = 0, extensions: int = 0, *,
              mm: UserMemory | None = None) -> int:
    """VM_CREATE: a new PPGTT under a new id.  EINVAL for flags; an extension chain is
    EFAULT if its first header is unreadable and EINVAL otherwise (the kernel walks it
    with an empty table)."""
    from .ppgtt import Ppgtt

    if flags:
        raise EINVAL(f"vm create flags {flags:#x}")
    fpriv = file_state(gpu, file)
    if extensions:
        if mm is not None:
            _get_u32(mm, extensions + _EXT_FLAGS)
        raise EINVAL("no VM_CREATE extension is known")
    vm = Ppgtt(gpu, f"vm[{fpriv.name}]")
    vm_id = fpriv.vm_install(vm)
    gpu.vm_put(vm)          # the id's reference is the only one
    return vm_id


def vm_destroy(gpu: Gpu, file: DrmFile, vm_id: int, flags: int = 0,
               extensions: int = 0) -> None:
    """VM_DESTROY: EINVAL for flags/extensions, ENOENT for an unknown id."""
    if flags:
        raise EINVAL(f"vm destroy flags {flags:#x}")
    if extensions:
        raise EINVAL("vm destroy takes no extensions")
    fpriv = file_state(gpu, file)
    with gpu.lock:
        vm = fpriv.vms.pop(vm_id, None)
    if vm is None:
        raise ENOENT(f"vm id {vm_id}")
    gpu.vm_put(vm)
    gpu.reap()


# -- the file's lifetime ------------------------------------------------------------------
def file_spaces(file: DrmFile) -> list[AddressSpace]:
    """Every address space the file's contexts and VM ids refer to (no duplicates)."""
    fpriv = file.driver_priv
    if not isinstance(fpriv, GpuFile):
        return []
    with fpriv.lock:
        spaces = [c.vm for c in fpriv.contexts.values() if c.vm is not None]
    with fpriv.gpu.lock:
        spaces += fpriv.vms.values()
    out: list[AddressSpace] = []
    for vm in spaces:
        if all(vm is not o for o in out):
            out.append(vm)
    return out


def file_close(gpu: Gpu, file: DrmFile) -> None:
    """``i915_gem_context_close``: close every context, drop every VM id."""
    fpriv = file.driver_priv
    if not isinstance(fpriv, GpuFile):
        return
    with fpriv.lock:
        contexts = [fpriv.contexts[k] for k in sorted(fpriv.contexts)]
        fpriv.contexts.clear()
    for ctx in contexts:
        ctx.close()
    with gpu.lock:
        vms = [fpriv.vms[k] for k in sorted(fpriv.vms)]
        fpriv.vms.clear()
    for vm in vms:
        gpu.vm_put(vm)
