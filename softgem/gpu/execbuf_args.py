"""EXECBUFFER2's arguments as plain records, and the checks made before any lookup.

The uAPI layer turns ``struct drm_i915_gem_execbuffer2`` into an :class:`ExecArgs` and back;
the exec-object array (``buffers_ptr``) is read here from user memory, 56 bytes an entry, into
:class:`ExecObject` records, and the updated offsets are written back into the same array, as
``i915_gem_execbuffer2_ioctl`` does.  Nothing here sees a ctypes struct.

The ladder before the object list is read (``check_buffer_count`` then
``i915_gem_check_execbuffer``), first failure wins:

===  ===========================================================================  ========
#    condition                                                                    errno
===  ===========================================================================  ========
1    ``buffer_count`` is 0 or above INT_MAX                                       EINVAL
2    a flag outside the known ones, a CONSTANTS mode, RESOURCE_STREAMER           EINVAL
3    cliprects (count or pointer) without FENCE_ARRAY or USE_EXTENSIONS           EINVAL
4    ``DR1`` or ``DR4`` non-zero (``DR4 == 0xffffffff`` is UXA's garbage: zeroed)  EINVAL
5    ``batch_start_offset`` or ``batch_len`` not 8-byte aligned                   EINVAL
6    ``(buffer_count + 2) x 136`` bytes (the object and ``eb_vma`` arrays) over   ENOMEM
     INT_MAX: ``kvmalloc_array`` refuses it before any copy
7    the object array is unreadable (copied in 64 KiB chunks)                     EFAULT
===  ===========================================================================  ========

Also here: the per-object ladder (:func:`validate_exec_object`), the fence-array and
extension walks (syncobjs are not modelled, so a named one is ENOENT), the in-fence fd, the
ring selection, and each object's record during the ioctl (:class:`EbVma`) with the rules
that place it in the address space (:func:`place`, :func:`fits`).

Flags are duplicated here as plain ints (the GPU layer may not import the uAPI package);
``tests/gpu_execbuf`` checks them against ``softgem.uapi``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..abi import (  # the uAPI header's names
    EXEC_OBJECT_ASYNC,
    EXEC_OBJECT_CAPTURE,
    EXEC_OBJECT_NEEDS_FENCE,
    EXEC_OBJECT_NEEDS_GTT,
    EXEC_OBJECT_PAD_TO_SIZE,
    EXEC_OBJECT_PINNED,
    EXEC_OBJECT_SUPPORTS_48B_ADDRESS,
    EXEC_OBJECT_WRITE,
    I915_EXEC_BATCH_FIRST,
    I915_EXEC_BLT,
    I915_EXEC_BSD,
    I915_EXEC_BSD_MASK,
    I915_EXEC_DEFAULT,
    I915_EXEC_FENCE_ARRAY,
    I915_EXEC_FENCE_IN,
    I915_EXEC_FENCE_OUT,
    I915_EXEC_FENCE_SUBMIT,
    I915_EXEC_HANDLE_LUT,
    I915_EXEC_NO_RELOC,
    I915_EXEC_RENDER,
    I915_EXEC_RING_MASK,
    I915_EXEC_SECURE,
    I915_EXEC_USE_EXTENSIONS,
    I915_EXEC_VEBOX,
)
from ..errors import E2BIG, EFAULT, EINVAL, ENOENT, ENOSPC, KernelError
from .execbuf_copy import EB_ELEMENT_SIZE, RawArray, copy_in, krealloc_array, kvmalloc_array
from .vma import (
    PIN_NOEVICT,
    PIN_OFFSET_BIAS,
    PIN_OFFSET_FIXED,
    PIN_USER,
    PIN_ZONE_4G,
    ZONE_4G_END,
)

if TYPE_CHECKING:
    from ..gem import GemObject
    from .vma import GpuVma

__all__ = [
    "EXEC_OBJECT_ASYNC", "EXEC_OBJECT_CAPTURE", "EXEC_OBJECT_NEEDS_FENCE",
    "EXEC_OBJECT_NEEDS_GTT", "EXEC_OBJECT_PAD_TO_SIZE", "EXEC_OBJECT_PINNED",
    "EXEC_OBJECT_SUPPORTS_48B_ADDRESS", "EXEC_OBJECT_UNKNOWN_FLAGS", "EXEC_OBJECT_WRITE",
    "EXEC_OBJECT2_SIZE", "ExecArgs", "ExecObject", "I915_EXEC_BATCH_FIRST", "I915_EXEC_BLT",
    "I915_EXEC_BSD", "I915_EXEC_BSD_MASK", "I915_EXEC_DEFAULT", "I915_EXEC_FENCE_ARRAY",
    "I915_EXEC_FENCE_IN", "I915_EXEC_FENCE_OUT", "I915_EXEC_FENCE_SUBMIT",
    "I915_EXEC_HANDLE_LUT", "I915_EXEC_NO_RELOC", "I915_EXEC_RENDER", "I915_EXEC_RING_MASK",
    "I915_EXEC_SECURE", "I915_EXEC_UNKNOWN_FLAGS", "I915_EXEC_USE_EXTENSIONS",
    "I915_EXEC_VEBOX", "UserMemory", "canonical", "check_buffer_count", "check_execbuffer",
    "BATCH_OFFSET_BIAS", "EbVma", "NEEDS_BIAS", "USER_RING_MAP", "fits", "place", "in_fence_fd", "noncanonical", "parse_extensions", "parse_fence_array",
    "read_exec_objects", "select_engine", "select_legacy_ring", "validate_exec_object",
    "write_back_offsets",
]

# -- exec object flags (i915_drm.h) ------------------------------------------------------------
EXEC_OBJECT_UNKNOWN_FLAGS = ~((EXEC_OBJECT_CAPTURE << 1) - 1) & ((1 << 64) - 1)

# -- execbuffer2 flags -------------------------------------------------------------------------
_I915_EXEC_CONSTANTS_MASK = 3 << 6
_I915_EXEC_RESOURCE_STREAMER = 1 << 15
I915_EXEC_UNKNOWN_FLAGS = ~((I915_EXEC_USE_EXTENSIONS << 1) - 1) & ((1 << 64) - 1)
_ILLEGAL_FLAGS = I915_EXEC_UNKNOWN_FLAGS | _I915_EXEC_CONSTANTS_MASK | \
    _I915_EXEC_RESOURCE_STREAMER

_INT_MAX = (1 << 31) - 1
_U64 = (1 << 64) - 1

# struct drm_i915_gem_exec_object2: handle, relocation_count, relocs_ptr, alignment, offset,
# flags, rsvd1 (pad_to_size), rsvd2 -- 56 bytes, little-endian, no padding.
_EXEC_OBJECT2 = struct.Struct("<IIQQQQQQ")
EXEC_OBJECT2_SIZE = _EXEC_OBJECT2.size
_OFFSET_FIELD = 24            # offsetof(struct drm_i915_gem_exec_object2, offset)


class UserMemory(Protocol):
    """The calling process's address space, as far as execbuf reaches into it."""

    def access_ok(self, addr: int, size: int) -> bool: ...

    def copy_from_user(self, addr: int, n: int) -> bytes: ...

    def copy_to_user(self, addr: int, data: bytes | bytearray | memoryview) -> None: ...


@dataclass(slots=True)
class ExecArgs:
    """``struct drm_i915_gem_execbuffer2``; execbuf edits ``flags``, ``DR4`` and ``rsvd2``."""

    buffers_ptr: int = 0
    buffer_count: int = 0
    batch_start_offset: int = 0
    batch_len: int = 0
    DR1: int = 0
    DR4: int = 0
    num_cliprects: int = 0
    cliprects_ptr: int = 0
    flags: int = 0
    rsvd1: int = 0            # the context id (low 32 bits)
    rsvd2: int = 0            # in-fence fd (low 32 bits), out-fence fd (high 32 bits)

    @property
    def context_id(self) -> int:
        return self.rsvd1 & 0xFFFFFFFF


@dataclass(slots=True)
class ExecObject:
    """One ``struct drm_i915_gem_exec_object2``; ``offset`` may be updated for the user."""

    handle: int = 0
    relocation_count: int = 0
    relocs_ptr: int = 0
    alignment: int = 0
    offset: int = 0
    flags: int = 0
    pad_to_size: int = 0      # the rsvd1 union
    rsvd2: int = 0
    updated: bool = False     # ``offset`` changed: write it back (the kernel's UPDATE bit)

    def pack(self) -> bytes:
        return _EXEC_OBJECT2.pack(self.handle, self.relocation_count, self.relocs_ptr,
                                  self.alignment, self.offset, self.flags, self.pad_to_size,
                                  self.rsvd2)


def canonical(addr: int) -> int:
    """``gen8_canonical_addr``: bit 47 copied into bits 48..63 (as a u64)."""
    addr &= (1 << 48) - 1
    return addr | (0xFFFF << 48) if addr & (1 << 47) else addr


def noncanonical(addr: int) -> int:
    """``gen8_noncanonical_addr``: the low 48 bits."""
    return addr & ((1 << 48) - 1)


def check_buffer_count(count: int) -> None:
    """``check_buffer_count``: at least one object, at most INT_MAX."""
    if count < 1 or count > _INT_MAX:
        raise EINVAL(f"execbuf2 with {count} buffers")


def check_execbuffer(args: ExecArgs) -> None:
    """``i915_gem_check_execbuffer``: rows 2-5 of the module table (may zero ``DR4``)."""
    if args.flags & _ILLEGAL_FLAGS:
        raise EINVAL(f"illegal execbuf flags {args.flags & _ILLEGAL_FLAGS:#x}")
    if not args.flags & (I915_EXEC_FENCE_ARRAY | I915_EXEC_USE_EXTENSIONS) and \
            (args.num_cliprects or args.cliprects_ptr):
        raise EINVAL("kernel clipping was a DRI1 misfeature")
    if args.DR4 == 0xFFFFFFFF:
        args.DR4 = 0          # UXA submits garbage DR4: fixed up, not refused
    if args.DR1 or args.DR4:
        raise EINVAL("DR1/DR4 must be zero")
    if (args.batch_start_offset | args.batch_len) & 7:
        raise EINVAL("batch start or length not 8-byte aligned")


def read_exec_objects(mm: UserMemory, addr: int, count: int) -> RawArray[ExecObject]:
    """The ``count`` exec objects at user address ``addr``: ENOMEM where ``kvmalloc_array(
    count + 2, EB_ELEMENT_SIZE)`` would fail, EFAULT if unreadable; copied in bounded chunks
    and decoded entry by entry as execbuf reaches them (:mod:`.execbuf_copy`)."""
    kvmalloc_array(count + 2, EB_ELEMENT_SIZE, "exec object list")
    data = copy_in(mm, addr, count * EXEC_OBJECT2_SIZE)
    return RawArray(data, _EXEC_OBJECT2, ExecObject, keep=True)


# -- fences that name syncobjs (cliprects_ptr reused) ------------------------------------------
_EXEC_FENCE = struct.Struct("<II")            # struct drm_i915_gem_exec_fence {handle, flags}
_FENCE_UNKNOWN_FLAGS = ~3 & 0xFFFFFFFF        # beyond I915_EXEC_FENCE_WAIT | _SIGNAL
_EXT_HDR = struct.Struct("<QII16x")           # i915_user_extension {next, name, flags, rsvd[4]}
_TIMELINE = struct.Struct("<32xQQQ")          # ..._ext_timeline_fences after the header
_MAX_EXTENSIONS = 512
_SIZE_MAX_FENCES = _U64 // 32                 # SIZE_MAX / sizeof(struct eb_fence)


def _syncobj_array(mm: UserMemory, ptr: int, count: int, values_ptr: int | None) -> None:
    """Walk ``count`` ``drm_i915_gem_exec_fence`` entries at ``ptr`` (and their timeline
    points at ``values_ptr``).  No syncobj exists in this model (the SYNCOBJ ioctls are not
    implemented), so the first well-formed entry fails its lookup with ENOENT."""
    if not count:
        return
    if count > min(_U64 // _EXEC_FENCE.size, _SIZE_MAX_FENCES):
        raise EINVAL(f"{count} fences")
    if not mm.access_ok(ptr, count * _EXEC_FENCE.size):
        raise EFAULT(f"fence array {ptr:#x}")
    if values_ptr is not None and not mm.access_ok(values_ptr, count * 8):
        raise EFAULT(f"timeline values {values_ptr:#x}")
    krealloc_array(count, 32, "fence array")      # struct eb_fence
    handle, flags = _EXEC_FENCE.unpack(mm.copy_from_user(ptr, _EXEC_FENCE.size))
    if flags & _FENCE_UNKNOWN_FLAGS:
        raise EINVAL(f"exec fence flags {flags:#x}")
    if values_ptr is not None:
        mm.copy_from_user(values_ptr, 8)
    raise ENOENT(f"syncobj {handle} (syncobjs are not modelled)")


def parse_fence_array(mm: UserMemory, args: ExecArgs) -> None:
    """I915_EXEC_FENCE_ARRAY (``add_fence_array``): ``num_cliprects`` fences at
    ``cliprects_ptr``."""
    if args.flags & I915_EXEC_FENCE_ARRAY:
        _syncobj_array(mm, args.cliprects_ptr, args.num_cliprects, None)


def parse_extensions(mm: UserMemory, args: ExecArgs) -> None:
    """I915_EXEC_USE_EXTENSIONS (``parse_execbuf2_extensions``): the chain at
    ``cliprects_ptr``, walked as ``i915_user_extensions`` does (flags and rsvd must be 0,
    unknown names EINVAL, more than 512 links E2BIG); the one extension is TIMELINE_FENCES."""
    if not args.flags & I915_EXEC_USE_EXTENSIONS:
        return
    if args.flags & I915_EXEC_FENCE_ARRAY:
        raise EINVAL("extensions and a fence array both use cliprects_ptr")
    if args.num_cliprects:
        raise EINVAL("num_cliprects must be 0 with extensions")
    ext, depth = args.cliprects_ptr, _MAX_EXTENSIONS
    while ext:
        if not depth:
            raise E2BIG("extension chain too long")
        depth -= 1
        nxt, name, flags = _EXT_HDR.unpack(mm.copy_from_user(ext, _EXT_HDR.size))
        if flags or any(mm.copy_from_user(ext + 16, 16)):
            raise EINVAL("extension flags/rsvd must be zero")
        if name != 0:                 # DRM_I915_GEM_EXECBUFFER_EXT_TIMELINE_FENCES
            raise EINVAL(f"unknown execbuf extension {name}")
        count, handles, values = _TIMELINE.unpack(mm.copy_from_user(ext, _TIMELINE.size))
        _syncobj_array(mm, handles, count, values)
        ext = nxt


# -- legacy ring selection ----------------------------------------------------------------------
#: I915_EXEC_{DEFAULT,RENDER,BLT,BSD,VEBOX} -> (engine class, instance): rcs0, bcs0, vcs0, vecs0.
USER_RING_MAP = {I915_EXEC_DEFAULT: (0, 0), I915_EXEC_RENDER: (0, 0), I915_EXEC_BLT: (1, 0),
                 I915_EXEC_BSD: (2, 0), I915_EXEC_VEBOX: (3, 0)}


def select_legacy_ring(flags: int) -> tuple[int, int]:
    """``eb_select_legacy_ring`` for a part with one video engine: the (class, instance)
    the ring bits name; EINVAL for BSD dispatch bits on another ring or an unknown ring."""
    ring = flags & I915_EXEC_RING_MASK
    if ring != I915_EXEC_BSD and flags & I915_EXEC_BSD_MASK:
        raise EINVAL("BSD dispatch flags on a non-BSD ring")
    engine = USER_RING_MAP.get(ring)
    if engine is None:
        raise EINVAL(f"unknown ring {ring}")
    return engine


# -- the objects during the ioctl: record and placement ------------------------------------
NEEDS_BIAS = 1 << 26                  # __EXEC_OBJECT_NEEDS_BIAS (internal)
BATCH_OFFSET_BIAS = 256 << 10


class EbVma:
    """One exec object during the ioctl (``struct eb_vma``): the entry, its object (with a
    reference) and its vma in the context's address space."""

    __slots__ = ("entry", "flags", "obj", "pinned", "relocs", "userptr", "vma")

    def __init__(self, entry: ExecObject, obj: GemObject, vma: GpuVma) -> None:
        self.entry = entry
        self.obj = obj
        self.vma = vma
        self.flags = entry.flags
        self.pinned = False
        self.userptr = False
        self.relocs: Sequence[Any] | None = None  # the copied-in relocation array

    @property
    def gpu_start(self) -> int:
        return self.vma.start


def place(ev: EbVma) -> None:
    """Pin ``ev``'s vma where the rules put it (``eb_pin_vma`` then ``eb_reserve_vma``):
    softpinned exactly at ``offset``; else where it is bound if that still fits; else, if
    unbound, where userspace presumed it (``offset``, without evicting); else anywhere (first
    fit, evicting idle vmas).  Raises what the pin raises (EINVAL, ENOSPC, EAGAIN...)."""
    vma, e = ev.vma, ev.entry
    flags = PIN_USER if ev.flags & EXEC_OBJECT_SUPPORTS_48B_ADDRESS else PIN_USER | PIN_ZONE_4G
    if ev.flags & EXEC_OBJECT_PINNED:
        vma.pin(e.pad_to_size, e.alignment, flags | PIN_OFFSET_FIXED, offset=e.offset)
        return
    bias = BATCH_OFFSET_BIAS if ev.flags & NEEDS_BIAS else 0
    if bias:
        flags |= PIN_OFFSET_BIAS
    limit = ZONE_4G_END if flags & PIN_ZONE_4G else vma.vm.total
    if not vma.bound and fits(e.offset, max(e.pad_to_size, vma.size), e.alignment, bias, limit):
        try:
            vma.pin(e.pad_to_size, e.alignment, flags | PIN_OFFSET_FIXED | PIN_NOEVICT,
                    offset=e.offset)
            return
        except (ENOSPC, EINVAL):
            pass
    vma.pin(e.pad_to_size, e.alignment, flags, offset=bias)


def select_engine(flags: int, user_engines: list[tuple[int, int] | None] | None
                  ) -> tuple[int, int] | None:
    """The (class, instance) the ring bits name: an index into the context's engine map when
    it has one (None past its end or at a hole), else the legacy ring (EINVAL as above)."""
    if user_engines is None:
        return select_legacy_ring(flags)
    idx = flags & I915_EXEC_RING_MASK
    return user_engines[idx] if idx < len(user_engines) else None


def validate_exec_object(e: ExecObject) -> None:
    """``eb_validate_vma``'s checks of one entry (full PPGTT: NEEDS_GTT is invalid), in
    order: flags, alignment, softpin offset (page aligned and canonical), pad_to_size; an
    entry without PAD_TO_SIZE has its ``pad_to_size`` (a once-reserved field) cleared."""
    if e.flags & (EXEC_OBJECT_UNKNOWN_FLAGS | EXEC_OBJECT_NEEDS_GTT):
        raise EINVAL(f"exec object flags {e.flags:#x}")
    if e.alignment & (e.alignment - 1):
        raise EINVAL(f"alignment {e.alignment:#x} is not a power of two")
    if e.flags & EXEC_OBJECT_PINNED and e.offset != canonical(e.offset & ~0xFFF):
        raise EINVAL(f"softpin offset {e.offset:#x} unaligned or not canonical")
    if e.flags & EXEC_OBJECT_PAD_TO_SIZE:
        if e.pad_to_size & 0xFFF:
            raise EINVAL(f"pad_to_size {e.pad_to_size:#x}")
    else:
        e.pad_to_size = 0


def fits(start: int, size: int, alignment: int, bias: int, limit: int) -> bool:
    """Whether ``[start, start + size)`` is a placement the pin constraints allow: page and
    ``alignment`` aligned, not below ``bias``, not past ``limit``."""
    aligned = not alignment or start % alignment == 0
    return aligned and not start & 0xFFF and start >= bias and start + size <= limit


def in_fence_fd(args: ExecArgs) -> int | None:
    """The in-fence fd (low half of ``rsvd2``) for FENCE_IN or FENCE_SUBMIT, else None;
    EINVAL for both at once."""
    both = I915_EXEC_FENCE_IN | I915_EXEC_FENCE_SUBMIT
    if args.flags & both == both:
        raise EINVAL("FENCE_IN and FENCE_SUBMIT together")
    return args.rsvd2 & 0xFFFFFFFF if args.flags & both else None


def write_back_offsets(mm: UserMemory, addr: int, objects: Sequence[ExecObject]) -> None:
    """Copy each updated offset (canonical form) into the user's array; faults are ignored
    (execution has begun: the kernel drops errors at this point).  Of a copied-in array only
    the entries execbuf reached can have been updated."""
    entries = objects.decoded() if isinstance(objects, RawArray) else enumerate(objects)
    for i, obj in entries:
        if not obj.updated:
            continue
        obj.offset = canonical(obj.offset)
        try:
            mm.copy_to_user(addr + i * EXEC_OBJECT2_SIZE + _OFFSET_FIELD,
                            obj.offset.to_bytes(8, "little"))
        except KernelError:
            return
