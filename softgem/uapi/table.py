"""The ioctl dispatcher (``drm_ioctl``) and the two command tables it indexes.

Dispatch follows ``drivers/gpu/drm/drm_ioctl.c`` (v6.8) step by step; the order matters
because it decides which errno a bad call gets:

1. a request whose type byte is not ``'d'``                       -> ENOTTY
2. ``nr`` in ``[DRM_COMMAND_BASE, DRM_COMMAND_END)`` indexes the i915 table, anything else
   the core table; an index past the table                         -> EINVAL
3. an entry without a function (a hole, or a removed legacy call)  -> EINVAL
4. sizes: ``in``/``out`` are the *user's* ``_IOC_SIZE`` when both the user's request and the
   table's request carry that direction, else 0; the kernel buffer is
   ``max(in, out, sizeof(table struct))``, copied in from the user and zero-extended -- which
   is how a 16-byte MMAP_GTT argument becomes an MMAP_OFFSET with ``flags == 0`` (GTT) and a
   CONTEXT_CREATE becomes a CONTEXT_CREATE_EXT without extensions;
5. copy_from_user of ``in`` bytes                                   -> EFAULT
6. ``drm_ioctl_permit`` on the entry's flags                        -> EACCES
7. the handler, which edits the kernel copy in place;
8. copy_to_user of ``out`` bytes, *whatever the handler returned* (a failed SET_VERSION still
   reports the versions); a fault there turns the result into EFAULT.

Permissions (``drm_ioctl_permit``): every simulated process is root, so DRM_ROOT_ONLY passes
and every file is authenticated (``drm_file_alloc`` sets ``authenticated`` to
``capable(CAP_SYS_ADMIN)``), which makes DRM_AUTH pass too.  DRM_MASTER passes only for the
current master: the first opener of the primary node while no master exists, as
``drm_master_open`` does (see :mod:`.handlers_auth`).  A render-node file gets EACCES for any
entry without DRM_RENDER_ALLOW.

The tables are data: one row per ``DRM_IOCTL_DEF`` of ``drm_ioctls[]`` and
``DRM_IOCTL_DEF_DRV`` of ``i915_ioctls[]``, same flags, same ``drm_noop`` /
``drm_invalid_op`` entries.  Only ``KernelError`` (and ``SimBug``, for a broken invariant)
leaves :func:`dispatch`; any other exception from a handler is a bug in softgem and is
wrapped into ``SimBug`` naming the ioctl.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import trace
from ..abi import _IOC_NR, _IOC_SIZE, _IOC_TYPE, IOC_IN, IOC_OUT
from ..abi import drm as D
from ..abi import i915 as I
from ..errors import EACCES, EINVAL, ENOTTY, KernelError, SimBug
from . import handlers_auth as auth
from . import handlers_core as core
from . import handlers_getparam as getparam
from . import handlers_gpu as gpu
from . import handlers_mman as mman
from . import handlers_object as obj
from . import handlers_query as query
from . import handlers_syncobj as syncobj
from . import handlers_userptr as userptr
from .context import Handler, IoctlContext, Task
from .usercopy import UserArg

if TYPE_CHECKING:
    from ..gem import DrmFile

__all__ = [
    "DRM_AUTH", "DRM_MASTER", "DRM_ROOT_ONLY", "DRM_RENDER_ALLOW",
    "CORE_IOCTLS", "I915_IOCTLS", "IoctlContext", "IoctlDesc", "Task",
    "dispatch", "drm_ioctl", "drm_ioctl_permit", "lookup",
]

# Permission flags (include/drm/drm_ioctl.h).
DRM_AUTH = 0x1
DRM_MASTER = 0x2
DRM_ROOT_ONLY = 0x4
DRM_RENDER_ALLOW = 0x20
_AMR = DRM_AUTH | DRM_MASTER | DRM_ROOT_ONLY
_R = DRM_RENDER_ALLOW

_STRUCTS: dict[int, type[ctypes.Structure]] = {**D.DRM_IOCTL_STRUCTS, **I.I915_IOCTL_STRUCTS}


def drm_noop(ctx: IoctlContext, data: Any) -> int:
    """Deprecated calls userspace still makes and checks: succeed, do nothing."""
    return 0


def drm_invalid_op(ctx: IoctlContext, data: Any) -> int:
    """Calls the kernel refuses on purpose (after the permission check, unlike a hole)."""
    raise EINVAL("drm_invalid_op")


@dataclass(frozen=True, slots=True)
class IoctlDesc:
    """One table row (``struct drm_ioctl_desc``): the kernel's own request number for the
    command (whose size and direction bound the copies), flags, handler, name."""

    cmd: int
    flags: int
    func: Handler | None
    name: str
    struct: type[ctypes.Structure] | None = field(default=None)

    @property
    def nr(self) -> int:
        return _IOC_NR(self.cmd)


def _row(name: str, cmd: int, func: Handler | None, flags: int,
         struct: type[ctypes.Structure] | None = None) -> IoctlDesc:
    return IoctlDesc(cmd, flags, func, name, struct or _STRUCTS.get(cmd))


_K = core.EXTRA_REQUESTS


def _kms(name: str, flags: int = 0) -> IoctlDesc:
    return _row(name, _K[name], core.kms_unsupported, flags)


def _sync(name: str, cmd: int) -> IoctlDesc:
    return _row(name, cmd, core.syncobj_unsupported, _R)


#: drm_ioctls[] of drivers/gpu/drm/drm_ioctl.c (v6.8: the DRI1 legacy entries are gone).
CORE_IOCTLS: tuple[IoctlDesc, ...] = (
    _row("VERSION", D.DRM_IOCTL_VERSION, core.version, _R),
    _row("GET_UNIQUE", D.DRM_IOCTL_GET_UNIQUE, core.get_unique, 0),
    _row("GET_MAGIC", D.DRM_IOCTL_GET_MAGIC, auth.get_magic, 0),
    _row("GET_CLIENT", _K["GET_CLIENT"], core.get_client, 0, core.drm_client),
    _row("GET_STATS", _K["GET_STATS"], core.get_stats, 0, core.drm_stats),
    _row("GET_CAP", D.DRM_IOCTL_GET_CAP, core.get_cap, _R),
    _row("SET_CLIENT_CAP", D.DRM_IOCTL_SET_CLIENT_CAP, core.set_client_cap, 0),
    _row("SET_VERSION", D.DRM_IOCTL_SET_VERSION, core.set_version, DRM_MASTER),
    _row("SET_UNIQUE", D.DRM_IOCTL_SET_UNIQUE, drm_invalid_op, _AMR),
    _row("BLOCK", _K["BLOCK"], drm_noop, _AMR),
    _row("UNBLOCK", _K["UNBLOCK"], drm_noop, _AMR),
    _row("AUTH_MAGIC", D.DRM_IOCTL_AUTH_MAGIC, auth.auth_magic, DRM_MASTER),
    _row("SET_MASTER", D.DRM_IOCTL_SET_MASTER, auth.set_master, 0),
    _row("DROP_MASTER", D.DRM_IOCTL_DROP_MASTER, auth.drop_master, 0),
    _row("ADD_DRAW", _K["ADD_DRAW"], drm_noop, _AMR),
    _row("RM_DRAW", _K["RM_DRAW"], drm_noop, _AMR),
    _row("FINISH", _K["FINISH"], drm_noop, DRM_AUTH),
    _row("WAIT_VBLANK", _K["WAIT_VBLANK"], core.kms_unsupported, 0),
    _row("UPDATE_DRAW", _K["UPDATE_DRAW"], drm_noop, _AMR),
    _row("GEM_CLOSE", D.DRM_IOCTL_GEM_CLOSE, obj.gem_close, _R),
    _row("GEM_FLINK", D.DRM_IOCTL_GEM_FLINK, obj.gem_flink, DRM_AUTH),
    _row("GEM_OPEN", D.DRM_IOCTL_GEM_OPEN, obj.gem_open, DRM_AUTH),
    _kms("MODE_GETRESOURCES"),
    _row("PRIME_HANDLE_TO_FD", D.DRM_IOCTL_PRIME_HANDLE_TO_FD, obj.prime_handle_to_fd, _R),
    _row("PRIME_FD_TO_HANDLE", D.DRM_IOCTL_PRIME_FD_TO_HANDLE, obj.prime_fd_to_handle, _R),
    _kms("MODE_GETPLANERESOURCES"), _kms("MODE_GETCRTC"), _kms("MODE_SETCRTC", DRM_MASTER),
    _kms("MODE_GETPLANE"), _kms("MODE_SETPLANE", DRM_MASTER), _kms("MODE_CURSOR", DRM_MASTER),
    _kms("MODE_GETGAMMA"), _kms("MODE_SETGAMMA", DRM_MASTER), _kms("MODE_GETENCODER"),
    _kms("MODE_GETCONNECTOR"),
    _row("MODE_ATTACHMODE", _K["MODE_ATTACHMODE"], drm_noop, DRM_MASTER),
    _row("MODE_DETACHMODE", _K["MODE_DETACHMODE"], drm_noop, DRM_MASTER),
    _kms("MODE_GETPROPERTY"), _kms("MODE_SETPROPERTY", DRM_MASTER), _kms("MODE_GETPROPBLOB"),
    _kms("MODE_GETFB"), _kms("MODE_GETFB2"), _kms("MODE_ADDFB"), _kms("MODE_ADDFB2"),
    _kms("MODE_RMFB"), _kms("MODE_CLOSEFB"), _kms("MODE_PAGE_FLIP", DRM_MASTER),
    _kms("MODE_DIRTYFB", DRM_MASTER), _kms("MODE_CREATE_DUMB"), _kms("MODE_MAP_DUMB"),
    _kms("MODE_DESTROY_DUMB"), _kms("MODE_OBJ_GETPROPERTIES"),
    _kms("MODE_OBJ_SETPROPERTY", DRM_MASTER), _kms("MODE_CURSOR2", DRM_MASTER),
    _kms("MODE_ATOMIC", DRM_MASTER), _kms("MODE_CREATEPROPBLOB"), _kms("MODE_DESTROYPROPBLOB"),
    _row("SYNCOBJ_CREATE", D.DRM_IOCTL_SYNCOBJ_CREATE, syncobj.syncobj_create, _R),
    _row("SYNCOBJ_DESTROY", D.DRM_IOCTL_SYNCOBJ_DESTROY, syncobj.syncobj_destroy_ioctl, _R),
    _row("SYNCOBJ_HANDLE_TO_FD", D.DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, syncobj.syncobj_handle_to_fd, _R),
    _row("SYNCOBJ_FD_TO_HANDLE", D.DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, syncobj.syncobj_fd_to_handle, _R),
    _row("SYNCOBJ_TRANSFER", D.DRM_IOCTL_SYNCOBJ_TRANSFER, syncobj.syncobj_transfer, _R),
    _row("SYNCOBJ_WAIT", D.DRM_IOCTL_SYNCOBJ_WAIT, syncobj.syncobj_wait, _R),
    _row("SYNCOBJ_TIMELINE_WAIT", D.DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, syncobj.syncobj_timeline_wait, _R),
    _sync("SYNCOBJ_EVENTFD", _K["SYNCOBJ_EVENTFD"]),
    _row("SYNCOBJ_RESET", D.DRM_IOCTL_SYNCOBJ_RESET, syncobj.syncobj_reset, _R),
    _row("SYNCOBJ_SIGNAL", D.DRM_IOCTL_SYNCOBJ_SIGNAL, syncobj.syncobj_signal, _R),
    _row("SYNCOBJ_TIMELINE_SIGNAL", D.DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL, syncobj.syncobj_timeline_signal, _R),
    _row("SYNCOBJ_QUERY", D.DRM_IOCTL_SYNCOBJ_QUERY, syncobj.syncobj_query, _R),
    _kms("CRTC_GET_SEQUENCE"), _kms("CRTC_QUEUE_SEQUENCE"),
    _kms("MODE_CREATE_LEASE", DRM_MASTER), _kms("MODE_LIST_LESSEES", DRM_MASTER),
    _kms("MODE_GET_LEASE", DRM_MASTER), _kms("MODE_REVOKE_LEASE", DRM_MASTER),
)

#: i915_ioctls[] of drivers/gpu/drm/i915/i915_driver.c, in command order.
I915_IOCTLS: tuple[IoctlDesc, ...] = (
    _row("I915_INIT", I.DRM_IOCTL_I915_INIT, drm_noop, _AMR),
    _row("I915_FLUSH", I.DRM_IOCTL_I915_FLUSH, drm_noop, DRM_AUTH),
    _row("I915_FLIP", I.DRM_IOCTL_I915_FLIP, drm_noop, DRM_AUTH),
    _row("I915_BATCHBUFFER", I.DRM_IOCTL_I915_BATCHBUFFER, drm_noop, DRM_AUTH),
    _row("I915_IRQ_EMIT", I.DRM_IOCTL_I915_IRQ_EMIT, drm_noop, DRM_AUTH),
    _row("I915_IRQ_WAIT", I.DRM_IOCTL_I915_IRQ_WAIT, drm_noop, DRM_AUTH),
    _row("I915_GETPARAM", I.DRM_IOCTL_I915_GETPARAM, getparam.getparam, _R),
    _row("I915_SETPARAM", I.DRM_IOCTL_I915_SETPARAM, drm_noop, _AMR),
    _row("I915_ALLOC", I.DRM_IOCTL_I915_ALLOC, drm_noop, DRM_AUTH),
    _row("I915_FREE", I.DRM_IOCTL_I915_FREE, drm_noop, DRM_AUTH),
    _row("I915_INIT_HEAP", I.DRM_IOCTL_I915_INIT_HEAP, drm_noop, _AMR),
    _row("I915_CMDBUFFER", I.DRM_IOCTL_I915_CMDBUFFER, drm_noop, DRM_AUTH),
    _row("I915_DESTROY_HEAP", I.DRM_IOCTL_I915_DESTROY_HEAP, drm_noop, _AMR),
    _row("I915_SET_VBLANK_PIPE", I.DRM_IOCTL_I915_SET_VBLANK_PIPE, drm_noop, _AMR),
    _row("I915_GET_VBLANK_PIPE", I.DRM_IOCTL_I915_GET_VBLANK_PIPE, drm_noop, DRM_AUTH),
    _row("I915_VBLANK_SWAP", I.DRM_IOCTL_I915_VBLANK_SWAP, drm_noop, DRM_AUTH),
    _row("I915_HWS_ADDR", I.DRM_IOCTL_I915_HWS_ADDR, drm_noop, _AMR),
    _row("I915_GEM_INIT", I.DRM_IOCTL_I915_GEM_INIT, drm_noop, _AMR),
    _row("I915_GEM_EXECBUFFER", I.DRM_IOCTL_I915_GEM_EXECBUFFER, drm_invalid_op, DRM_AUTH),
    _row("I915_GEM_EXECBUFFER2_WR", I.DRM_IOCTL_I915_GEM_EXECBUFFER2_WR, gpu.execbuffer2, _R),
    _row("I915_GEM_PIN", I.DRM_IOCTL_I915_GEM_PIN, gpu.reject_pin,
         DRM_AUTH | DRM_ROOT_ONLY),
    _row("I915_GEM_UNPIN", I.DRM_IOCTL_I915_GEM_UNPIN, gpu.reject_pin,
         DRM_AUTH | DRM_ROOT_ONLY),
    _row("I915_GEM_BUSY", I.DRM_IOCTL_I915_GEM_BUSY, obj.gem_busy, _R),
    _row("I915_GEM_SET_CACHING", I.DRM_IOCTL_I915_GEM_SET_CACHING, obj.set_caching, _R),
    _row("I915_GEM_GET_CACHING", I.DRM_IOCTL_I915_GEM_GET_CACHING, obj.get_caching, _R),
    _row("I915_GEM_THROTTLE", I.DRM_IOCTL_I915_GEM_THROTTLE, gpu.throttle, _R),
    _row("I915_GEM_ENTERVT", I.DRM_IOCTL_I915_GEM_ENTERVT, drm_noop, _AMR),
    _row("I915_GEM_LEAVEVT", I.DRM_IOCTL_I915_GEM_LEAVEVT, drm_noop, _AMR),
    _row("I915_GEM_CREATE", I.DRM_IOCTL_I915_GEM_CREATE, obj.gem_create, _R),
    _row("I915_GEM_CREATE_EXT", I.DRM_IOCTL_I915_GEM_CREATE_EXT, obj.gem_create_ext, _R),
    _row("I915_GEM_PREAD", I.DRM_IOCTL_I915_GEM_PREAD, obj.gem_pread, _R),
    _row("I915_GEM_PWRITE", I.DRM_IOCTL_I915_GEM_PWRITE, obj.gem_pwrite, _R),
    _row("I915_GEM_MMAP", I.DRM_IOCTL_I915_GEM_MMAP, mman.gem_mmap, _R),
    _row("I915_GEM_MMAP_OFFSET", I.DRM_IOCTL_I915_GEM_MMAP_OFFSET, mman.gem_mmap_offset, _R),
    _row("I915_GEM_SET_DOMAIN", I.DRM_IOCTL_I915_GEM_SET_DOMAIN, obj.set_domain, _R),
    _row("I915_GEM_SW_FINISH", I.DRM_IOCTL_I915_GEM_SW_FINISH, obj.sw_finish, _R),
    _row("I915_GEM_SET_TILING", I.DRM_IOCTL_I915_GEM_SET_TILING, obj.set_tiling, _R),
    _row("I915_GEM_GET_TILING", I.DRM_IOCTL_I915_GEM_GET_TILING, obj.get_tiling, _R),
    _row("I915_GEM_GET_APERTURE", I.DRM_IOCTL_I915_GEM_GET_APERTURE, obj.get_aperture, _R),
    _row("I915_GET_PIPE_FROM_CRTC_ID", I.DRM_IOCTL_I915_GET_PIPE_FROM_CRTC_ID,
         gpu.get_pipe_from_crtc_id, 0),
    _row("I915_GEM_MADVISE", I.DRM_IOCTL_I915_GEM_MADVISE, obj.gem_madvise, _R),
    _row("I915_OVERLAY_PUT_IMAGE", I.DRM_IOCTL_I915_OVERLAY_PUT_IMAGE, gpu.no_overlay,
         DRM_MASTER),
    _row("I915_OVERLAY_ATTRS", I.DRM_IOCTL_I915_OVERLAY_ATTRS, gpu.no_overlay, DRM_MASTER),
    _row("I915_SET_SPRITE_COLORKEY", I.DRM_IOCTL_I915_SET_SPRITE_COLORKEY,
         gpu.set_sprite_colorkey, DRM_MASTER),
    _row("I915_GET_SPRITE_COLORKEY", I.DRM_IOCTL_I915_GET_SPRITE_COLORKEY, drm_noop,
         DRM_MASTER),
    _row("I915_GEM_WAIT", I.DRM_IOCTL_I915_GEM_WAIT, obj.gem_wait, _R),
    _row("I915_GEM_CONTEXT_CREATE_EXT", I.DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT,
         gpu.context_create, _R),
    _row("I915_GEM_CONTEXT_DESTROY", I.DRM_IOCTL_I915_GEM_CONTEXT_DESTROY,
         gpu.context_destroy, _R),
    _row("I915_REG_READ", I.DRM_IOCTL_I915_REG_READ, gpu.reg_read, _R),
    _row("I915_GET_RESET_STATS", I.DRM_IOCTL_I915_GET_RESET_STATS, gpu.get_reset_stats, _R),
    _row("I915_GEM_USERPTR", I.DRM_IOCTL_I915_GEM_USERPTR, userptr.gem_userptr, _R),
    _row("I915_GEM_CONTEXT_GETPARAM", I.DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM,
         gpu.context_getparam, _R),
    _row("I915_GEM_CONTEXT_SETPARAM", I.DRM_IOCTL_I915_GEM_CONTEXT_SETPARAM,
         gpu.context_setparam, _R),
    _row("I915_PERF_OPEN", I.DRM_IOCTL_I915_PERF_OPEN, gpu.perf, _R),
    _row("I915_PERF_ADD_CONFIG", I.DRM_IOCTL_I915_PERF_ADD_CONFIG, gpu.perf, _R),
    _row("I915_PERF_REMOVE_CONFIG", I.DRM_IOCTL_I915_PERF_REMOVE_CONFIG, gpu.perf, _R),
    _row("I915_QUERY", I.DRM_IOCTL_I915_QUERY, query.query, _R),
    _row("I915_GEM_VM_CREATE", I.DRM_IOCTL_I915_GEM_VM_CREATE, gpu.vm_create, _R),
    _row("I915_GEM_VM_DESTROY", I.DRM_IOCTL_I915_GEM_VM_DESTROY, gpu.vm_destroy, _R),
)


def _index(rows: tuple[IoctlDesc, ...], base: int) -> tuple[IoctlDesc | None, ...]:
    """Rows placed at ``nr - base`` (``[DRM_IOCTL_NR(ioctl)] = {...}``); holes stay None."""
    size = max(d.nr for d in rows) - base + 1
    slots: list[IoctlDesc | None] = [None] * size
    for d in rows:
        if slots[d.nr - base] is not None:
            raise SimBug(f"two table rows for nr {d.nr:#x}")
        slots[d.nr - base] = d
    return tuple(slots)


_CORE = _index(CORE_IOCTLS, 0)
_DRIVER = _index(I915_IOCTLS, D.DRM_COMMAND_BASE)


def lookup(request: int) -> IoctlDesc:
    """The table row a request selects (ENOTTY for another driver type, EINVAL if none)."""
    if _IOC_TYPE(request) != D.DRM_IOCTL_BASE:
        raise ENOTTY(f"ioctl type {_IOC_TYPE(request):#x} is not DRM's")
    nr = _IOC_NR(request)
    if D.DRM_COMMAND_BASE <= nr < D.DRM_COMMAND_END:
        index, table = nr - D.DRM_COMMAND_BASE, _DRIVER
    else:
        index, table = nr, _CORE
    desc = table[index] if index < len(table) else None
    if desc is None or desc.func is None:
        raise EINVAL(f"no ioctl with nr {nr:#x}")
    return desc


def drm_ioctl_permit(flags: int, file: DrmFile) -> None:
    """EACCES unless ``file`` may run an entry with ``flags`` (see the module docstring).

    DRM_ROOT_ONLY and DRM_AUTH always pass: the caller is root, so every file is authenticated.
    """
    if flags & DRM_MASTER and not auth.is_current_master(file):
        raise EACCES("DRM_MASTER ioctl from a file that is not the master")
    if not flags & DRM_RENDER_ALLOW and file.is_render:
        raise EACCES("ioctl not allowed on a render node")


def dispatch(file: DrmFile, task: Task, request: int, arg: Any) -> int:
    """Run one ioctl; return its non-negative result or raise its KernelError."""
    request &= 0xFFFFFFFF  # the system call's ``unsigned int cmd``
    try:
        return _dispatch(file, task, request, arg)
    except (KernelError, SimBug):
        raise
    except Exception as exc:  # a handler bug: never let it pass for an errno
        raise SimBug(f"ioctl {request:#x}: {type(exc).__name__}: {exc}") from exc


def drm_ioctl(file: DrmFile, task: Task, request: int, arg: Any) -> int:
    """``drm_ioctl``: the result, or ``-errno`` for a failure."""
    try:
        return dispatch(file, task, request, arg)
    except KernelError as err:
        return -err.errno


def _sizes(desc: IoctlDesc, request: int) -> tuple[int, int, int]:
    usize = _IOC_SIZE(request)
    in_size = usize if request & desc.cmd & IOC_IN else 0
    out_size = usize if request & desc.cmd & IOC_OUT else 0
    return in_size, out_size, max(in_size, out_size, _IOC_SIZE(desc.cmd))


# request -> (row, in size, out size, kernel size): the decoding of a request number never
# changes, so the hot path decodes each number once.  Failures (ENOTTY/EINVAL) are not cached.
_DECODED: dict[int, tuple[IoctlDesc, int, int, int]] = {}


def _decode(request: int) -> tuple[IoctlDesc, int, int, int]:
    hit = _DECODED.get(request)
    if hit is None:
        desc = lookup(request)
        hit = (desc, *_sizes(desc, request))
        if len(_DECODED) < 4096:  # fuzzers invent request numbers: keep the cache bounded
            _DECODED[request] = hit
    return hit


def _dispatch(file: DrmFile, task: Task, request: int, arg: Any) -> int:
    desc, in_size, out_size, ksize = _decode(request)
    user = UserArg(task.mm, arg)
    # The kernel buffer: the user's bytes, zero-extended to ksize.  Handlers get a private
    # ctypes copy of it (from_buffer_copy: a third of the cost of from_buffer on a bytearray);
    # its bytes are the kernel buffer again for the copy-out.
    kdata = user.copy_in(in_size) if in_size else b""
    if in_size < ksize:
        kdata += bytes(ksize - in_size)
    struct = desc.struct
    ctx = IoctlContext(file, task)
    failure: KernelError | None = None
    ret = 0
    data: Any = None
    try:
        drm_ioctl_permit(desc.flags, file)
        data = struct.from_buffer_copy(kdata) if struct is not None else bytearray(kdata)
        assert desc.func is not None
        ret = desc.func(ctx, data) or 0
    except KernelError as err:
        failure = err
    except SimBug:
        raise
    except Exception as exc:
        raise SimBug(f"{desc.name}: handler raised {type(exc).__name__}: {exc}") from exc
    if data is not None:
        out = bytes(data)
        if len(out) < ksize:          # the user's size exceeds the struct: the tail is kept
            out += kdata[len(out):]
        kdata = out
    try:
        user.copy_out(kdata if out_size == ksize else kdata[:out_size], ctx.tail)
    except KernelError as err:
        failure = err
    if trace.enabled:
        trace.emit("uapi", "ioctl", name=desc.name, nr=desc.nr,
                   ret=-failure.errno if failure is not None else ret)
    if failure is not None:
        raise failure
    return ret
