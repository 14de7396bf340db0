"""DRM core uAPI (``include/uapi/drm/drm.h``): the structs and requests every DRM driver shares.

Only the part of ``drm.h`` a render-node GEM client uses is here: version and unique queries,
capabilities, GEM close/flink/open, PRIME import/export, sync objects and the event header.
The DRI1 legacy requests (maps, buffers, contexts, locks, AGP, scatter-gather, vblank) and the
KMS ``DRM_IOCTL_MODE_*`` requests (whose structs live in ``drm_mode.h``) are left out on
purpose: no i915 path in softgem serves them, and a request number without its struct would
only invite a table entry that cannot decode its argument.

Layout rules (x86-64, the only ABI softgem models): ``int`` is ``c_int32``, ``unsigned int``
``c_uint32``, ``__kernel_size_t`` ``c_uint64``, and every C pointer (``char *name``) is a plain
``c_uint64`` holding a *user address* in the calling process -- the kernel never dereferences
it directly either, it goes through copy_from_user/copy_to_user.
"""

from __future__ import annotations

import ctypes
from ctypes import c_int32, c_int64, c_uint8, c_uint16, c_uint32, c_uint64
from typing import Any

from .ioc import _IO, _IOR, _IOW, _IOWR


def _visible_fields(ctype: Any) -> list[str]:
    """Field names as C code spells them: members of anonymous unions/structs are promoted."""
    names: list[str] = []
    anonymous = getattr(ctype, "_anonymous_", ())
    for spec in ctype._fields_:
        name, member_type = spec[0], spec[1]
        names.extend(_visible_fields(member_type) if name in anonymous else [name])
    return names


def _show(value: Any) -> str:
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, ctypes.Array):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return repr(value)


class UapiStruct(ctypes.Structure):
    """Base of every uAPI struct: a readable ``repr`` so failing tests and traces show fields.

    It adds no fields, so the layout is exactly the subclass's ``_fields_``.
    """

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={_show(getattr(self, name))}"
                          for name in _visible_fields(type(self)))
        return f"{type(self).__name__}({shown})"


# --- scalar typedefs ------------------------------------------------------------------------
drm_handle_t = c_uint32
drm_context_t = c_uint32
drm_drawable_t = c_uint32
drm_magic_t = c_uint32

# --- misc constants -------------------------------------------------------------------------
DRM_NAME = "drm"
DRM_MIN_ORDER = 5
DRM_MAX_ORDER = 22
DRM_RAM_PERCENT = 10
_DRM_LOCK_HELD = 0x80000000
_DRM_LOCK_CONT = 0x40000000

# Flags for drm_prime_handle.flags: Linux's open(2) values (not the host's), as in C.
DRM_RDWR = 0o2              # O_RDWR (x86-64)
DRM_CLOEXEC = 0o2000000     # O_CLOEXEC (x86-64)

# --- capabilities (drm_get_cap.capability) --------------------------------------------------
DRM_CAP_DUMB_BUFFER = 0x1
DRM_CAP_VBLANK_HIGH_CRTC = 0x2
DRM_CAP_DUMB_PREFERRED_DEPTH = 0x3
DRM_CAP_DUMB_PREFER_SHADOW = 0x4
DRM_CAP_PRIME = 0x5
DRM_PRIME_CAP_IMPORT = 0x1
DRM_PRIME_CAP_EXPORT = 0x2
DRM_CAP_TIMESTAMP_MONOTONIC = 0x6
DRM_CAP_ASYNC_PAGE_FLIP = 0x7
DRM_CAP_CURSOR_WIDTH = 0x8
DRM_CAP_CURSOR_HEIGHT = 0x9
DRM_CAP_ADDFB2_MODIFIERS = 0x10
DRM_CAP_PAGE_FLIP_TARGET = 0x11
DRM_CAP_CRTC_IN_VBLANK_EVENT = 0x12
DRM_CAP_SYNCOBJ = 0x13
DRM_CAP_SYNCOBJ_TIMELINE = 0x14

# --- client capabilities (drm_set_client_cap.capability) ------------------------------------
DRM_CLIENT_CAP_STEREO_3D = 1
DRM_CLIENT_CAP_UNIVERSAL_PLANES = 2
DRM_CLIENT_CAP_ATOMIC = 3
DRM_CLIENT_CAP_ASPECT_RATIO = 4
DRM_CLIENT_CAP_WRITEBACK_CONNECTORS = 5

# --- sync objects ---------------------------------------------------------------------------
DRM_SYNCOBJ_CREATE_SIGNALED = 1 << 0
DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE = 1 << 0
DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE = 1 << 0
DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL = 1 << 0
DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT = 1 << 1
DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE = 1 << 2
DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED = 1 << 0

# --- events read(2) from the DRM fd ---------------------------------------------------------
DRM_EVENT_VBLANK = 0x01
DRM_EVENT_FLIP_COMPLETE = 0x02
DRM_EVENT_CRTC_SEQUENCE = 0x03

# --- command space --------------------------------------------------------------------------
DRM_IOCTL_BASE = ord("d")
DRM_COMMAND_BASE = 0x40  # driver-private commands (i915's) start here
DRM_COMMAND_END = 0xA0


# --- structs --------------------------------------------------------------------------------
class drm_clip_rect(UapiStruct):
    _fields_ = [("x1", c_uint16), ("y1", c_uint16), ("x2", c_uint16), ("y2", c_uint16)]


class drm_tex_region(UapiStruct):
    _fields_ = [("next", c_uint8), ("prev", c_uint8), ("in_use", c_uint8),
                ("padding", c_uint8), ("age", c_uint32)]


class drm_version(UapiStruct):
    """DRM_IOCTL_VERSION: the kernel fills the numbers and copies up to ``*_len`` bytes of
    each string to the user buffers, then sets each ``*_len`` to the full length."""

    _fields_ = [
        ("version_major", c_int32),
        ("version_minor", c_int32),
        ("version_patchlevel", c_int32),
        ("name_len", c_uint64),
        ("name", c_uint64),   # user pointer
        ("date_len", c_uint64),
        ("date", c_uint64),   # user pointer
        ("desc_len", c_uint64),
        ("desc", c_uint64),   # user pointer
    ]


class drm_unique(UapiStruct):
    _fields_ = [("unique_len", c_uint64), ("unique", c_uint64)]  # unique: user pointer


class drm_auth(UapiStruct):
    _fields_ = [("magic", drm_magic_t)]


class drm_set_version(UapiStruct):
    _fields_ = [("drm_di_major", c_int32), ("drm_di_minor", c_int32),
                ("drm_dd_major", c_int32), ("drm_dd_minor", c_int32)]


class drm_gem_close(UapiStruct):
    _fields_ = [("handle", c_uint32), ("pad", c_uint32)]


class drm_gem_flink(UapiStruct):
    _fields_ = [("handle", c_uint32), ("name", c_uint32)]


class drm_gem_open(UapiStruct):
    _fields_ = [("name", c_uint32), ("handle", c_uint32), ("size", c_uint64)]


class drm_get_cap(UapiStruct):
    _fields_ = [("capability", c_uint64), ("value", c_uint64)]


class drm_set_client_cap(UapiStruct):
    _fields_ = [("capability", c_uint64), ("value", c_uint64)]


class drm_prime_handle(UapiStruct):
    _fields_ = [("handle", c_uint32), ("flags", c_uint32), ("fd", c_int32)]


class drm_syncobj_create(UapiStruct):
    _fields_ = [("handle", c_uint32), ("flags", c_uint32)]


class drm_syncobj_destroy(UapiStruct):
    _fields_ = [("handle", c_uint32), ("pad", c_uint32)]


class drm_syncobj_handle(UapiStruct):
    _fields_ = [("handle", c_uint32), ("flags", c_uint32), ("fd", c_int32), ("pad", c_uint32)]


class drm_syncobj_transfer(UapiStruct):
    _fields_ = [("src_handle", c_uint32), ("dst_handle", c_uint32), ("src_point", c_uint64),
                ("dst_point", c_uint64), ("flags", c_uint32), ("pad", c_uint32)]


class drm_syncobj_wait(UapiStruct):
    _fields_ = [("handles", c_uint64), ("timeout_nsec", c_int64), ("count_handles", c_uint32),
                ("flags", c_uint32), ("first_signaled", c_uint32), ("pad", c_uint32)]


class drm_syncobj_timeline_wait(UapiStruct):
    _fields_ = [("handles", c_uint64), ("points", c_uint64), ("timeout_nsec", c_int64),
                ("count_handles", c_uint32), ("flags", c_uint32),
                ("first_signaled", c_uint32), ("pad", c_uint32)]


class drm_syncobj_array(UapiStruct):
    _fields_ = [("handles", c_uint64), ("count_handles", c_uint32), ("pad", c_uint32)]


class drm_syncobj_timeline_array(UapiStruct):
    _fields_ = [("handles", c_uint64), ("points", c_uint64), ("count_handles", c_uint32),
                ("flags", c_uint32)]


class drm_event(UapiStruct):
    _fields_ = [("type", c_uint32), ("length", c_uint32)]


class drm_event_vblank(UapiStruct):
    _fields_ = [("base", drm_event), ("user_data", c_uint64), ("tv_sec", c_uint32),
                ("tv_usec", c_uint32), ("sequence", c_uint32), ("crtc_id", c_uint32)]


class drm_event_crtc_sequence(UapiStruct):
    _fields_ = [("base", drm_event), ("user_data", c_uint64), ("time_ns", c_int64),
                ("sequence", c_uint64)]


# typedef names C code also uses
drm_clip_rect_t = drm_clip_rect
drm_tex_region_t = drm_tex_region
drm_version_t = drm_version
drm_unique_t = drm_unique
drm_auth_t = drm_auth
drm_set_version_t = drm_set_version


# --- request encoding -----------------------------------------------------------------------
def DRM_IO(nr: int) -> int:
    return _IO(DRM_IOCTL_BASE, nr)


def DRM_IOR(nr: int, argtype: Any) -> int:
    return _IOR(DRM_IOCTL_BASE, nr, argtype)


def DRM_IOW(nr: int, argtype: Any) -> int:
    return _IOW(DRM_IOCTL_BASE, nr, argtype)


def DRM_IOWR(nr: int, argtype: Any) -> int:
    return _IOWR(DRM_IOCTL_BASE, nr, argtype)


# --- core requests --------------------------------------------------------------------------
#: The argument struct of every core request that takes one, filled in as each request is
#: defined below (SET_MASTER and DROP_MASTER take none).
DRM_IOCTL_STRUCTS: dict[int, type[ctypes.Structure]] = {}


def _define(request: int, argtype: type[ctypes.Structure]) -> int:
    DRM_IOCTL_STRUCTS[request] = argtype
    return request


def _ior(nr: int, argtype: type[ctypes.Structure]) -> int:
    return _define(DRM_IOR(nr, argtype), argtype)


def _iow(nr: int, argtype: type[ctypes.Structure]) -> int:
    return _define(DRM_IOW(nr, argtype), argtype)


def _iowr(nr: int, argtype: type[ctypes.Structure]) -> int:
    return _define(DRM_IOWR(nr, argtype), argtype)


DRM_IOCTL_VERSION = _iowr(0x00, drm_version)
DRM_IOCTL_GET_UNIQUE = _iowr(0x01, drm_unique)
DRM_IOCTL_GET_MAGIC = _ior(0x02, drm_auth)
DRM_IOCTL_SET_VERSION = _iowr(0x07, drm_set_version)
DRM_IOCTL_GEM_CLOSE = _iow(0x09, drm_gem_close)
DRM_IOCTL_GEM_FLINK = _iowr(0x0A, drm_gem_flink)
DRM_IOCTL_GEM_OPEN = _iowr(0x0B, drm_gem_open)
DRM_IOCTL_GET_CAP = _iowr(0x0C, drm_get_cap)
DRM_IOCTL_SET_CLIENT_CAP = _iow(0x0D, drm_set_client_cap)
DRM_IOCTL_SET_UNIQUE = _iow(0x10, drm_unique)
DRM_IOCTL_AUTH_MAGIC = _iow(0x11, drm_auth)
DRM_IOCTL_SET_MASTER = DRM_IO(0x1E)
DRM_IOCTL_DROP_MASTER = DRM_IO(0x1F)
DRM_IOCTL_PRIME_HANDLE_TO_FD = _iowr(0x2D, drm_prime_handle)
DRM_IOCTL_PRIME_FD_TO_HANDLE = _iowr(0x2E, drm_prime_handle)
DRM_IOCTL_SYNCOBJ_CREATE = _iowr(0xBF, drm_syncobj_create)
DRM_IOCTL_SYNCOBJ_DESTROY = _iowr(0xC0, drm_syncobj_destroy)
DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD = _iowr(0xC1, drm_syncobj_handle)
DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE = _iowr(0xC2, drm_syncobj_handle)
DRM_IOCTL_SYNCOBJ_WAIT = _iowr(0xC3, drm_syncobj_wait)
DRM_IOCTL_SYNCOBJ_RESET = _iowr(0xC4, drm_syncobj_array)
DRM_IOCTL_SYNCOBJ_SIGNAL = _iowr(0xC5, drm_syncobj_array)
DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT = _iowr(0xCA, drm_syncobj_timeline_wait)
DRM_IOCTL_SYNCOBJ_QUERY = _iowr(0xCB, drm_syncobj_timeline_array)
DRM_IOCTL_SYNCOBJ_TRANSFER = _iowr(0xCC, drm_syncobj_transfer)
DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL = _iowr(0xCD, drm_syncobj_timeline_array)


# linux/sync_file.h: the ioctls of a sync_file fd (an out-fence, an exported syncobj fence).
class sync_merge_data(UapiStruct):
    _fields_ = [("name", ctypes.c_char * 32), ("fd2", c_int32), ("fence", c_int32),
                ("flags", c_uint32), ("pad", c_uint32)]


class sync_fence_info(UapiStruct):
    _fields_ = [("obj_name", ctypes.c_char * 32), ("driver_name", ctypes.c_char * 32),
                ("status", c_int32), ("flags", c_uint32), ("timestamp_ns", c_uint64)]


class sync_file_info(UapiStruct):
    _fields_ = [("name", ctypes.c_char * 32), ("status", c_int32), ("flags", c_uint32),
                ("num_fences", c_uint32), ("pad", c_uint32), ("sync_fence_info", c_uint64)]


# linux/dma-buf.h: CPU access brackets on a dma-buf fd.
class dma_buf_sync(UapiStruct):
    _fields_ = [("flags", c_uint64)]


DMA_BUF_SYNC_READ = 1 << 0
DMA_BUF_SYNC_WRITE = 2 << 0
DMA_BUF_SYNC_RW = DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE
DMA_BUF_SYNC_START = 0 << 2
DMA_BUF_SYNC_END = 1 << 2
DMA_BUF_SYNC_VALID_FLAGS_MASK = DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END
DMA_BUF_BASE = ord("b")
DMA_BUF_IOCTL_SYNC = _IOW(DMA_BUF_BASE, 0, dma_buf_sync)

SYNC_IOC_MAGIC = ord(">")
SYNC_IOC_MERGE = _IOWR(SYNC_IOC_MAGIC, 3, sync_merge_data)
SYNC_IOC_FILE_INFO = _IOWR(SYNC_IOC_MAGIC, 4, sync_file_info)


# Every C name above, plus UapiStruct (tests/uapi/test_uapi_exports.py checks it is complete).
__all__ = [
    "UapiStruct", "drm_handle_t", "drm_context_t", "drm_drawable_t", "drm_magic_t", "DRM_NAME",
    "DRM_MIN_ORDER", "DRM_MAX_ORDER", "DRM_RAM_PERCENT", "_DRM_LOCK_HELD", "_DRM_LOCK_CONT",
    "DRM_RDWR", "DRM_CLOEXEC", "DRM_CAP_DUMB_BUFFER", "DRM_CAP_VBLANK_HIGH_CRTC",
    "DRM_CAP_DUMB_PREFERRED_DEPTH", "DRM_CAP_DUMB_PREFER_SHADOW", "DRM_CAP_PRIME",
    "DRM_PRIME_CAP_IMPORT", "DRM_PRIME_CAP_EXPORT", "DRM_CAP_TIMESTAMP_MONOTONIC",
    "DRM_CAP_ASYNC_PAGE_FLIP", "DRM_CAP_CURSOR_WIDTH", "DRM_CAP_CURSOR_HEIGHT",
    "DRM_CAP_ADDFB2_MODIFIERS", "DRM_CAP_PAGE_FLIP_TARGET", "DRM_CAP_CRTC_IN_VBLANK_EVENT",
    "DRM_CAP_SYNCOBJ", "DRM_CAP_SYNCOBJ_TIMELINE", "DRM_CLIENT_CAP_STEREO_3D",
    "DRM_CLIENT_CAP_UNIVERSAL_PLANES", "DRM_CLIENT_CAP_ATOMIC", "DRM_CLIENT_CAP_ASPECT_RATIO",
    "DRM_CLIENT_CAP_WRITEBACK_CONNECTORS", "DRM_SYNCOBJ_CREATE_SIGNALED",
    "DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE",
    "DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE", "DRM_SYNCOBJ_WAIT_FLAGS_WAIT_ALL",
    "DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT", "DRM_SYNCOBJ_WAIT_FLAGS_WAIT_AVAILABLE",
    "DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED", "DRM_EVENT_VBLANK", "DRM_EVENT_FLIP_COMPLETE",
    "DRM_EVENT_CRTC_SEQUENCE", "DRM_IOCTL_BASE", "DRM_COMMAND_BASE", "DRM_COMMAND_END",
    "drm_clip_rect", "drm_tex_region", "drm_version", "drm_unique", "drm_auth", "drm_set_version",
    "drm_gem_close", "drm_gem_flink", "drm_gem_open", "drm_get_cap", "drm_set_client_cap",
    "drm_prime_handle", "drm_syncobj_create", "drm_syncobj_destroy", "drm_syncobj_handle",
    "drm_syncobj_transfer", "drm_syncobj_wait", "drm_syncobj_timeline_wait", "drm_syncobj_array",
    "drm_syncobj_timeline_array", "drm_event", "drm_event_vblank", "drm_event_crtc_sequence",
    "drm_clip_rect_t", "drm_tex_region_t", "drm_version_t", "drm_unique_t", "drm_auth_t",
    "drm_set_version_t", "DRM_IO", "DRM_IOR", "DRM_IOW", "DRM_IOWR", "DRM_IOCTL_STRUCTS",
    "DRM_IOCTL_VERSION", "DRM_IOCTL_GET_UNIQUE", "DRM_IOCTL_GET_MAGIC", "DRM_IOCTL_SET_VERSION",
    "DRM_IOCTL_GEM_CLOSE", "DRM_IOCTL_GEM_FLINK", "DRM_IOCTL_GEM_OPEN", "DRM_IOCTL_GET_CAP",
    "DRM_IOCTL_SET_CLIENT_CAP", "DRM_IOCTL_SET_UNIQUE", "DRM_IOCTL_AUTH_MAGIC",
    "DRM_IOCTL_SET_MASTER", "DRM_IOCTL_DROP_MASTER", "DRM_IOCTL_PRIME_HANDLE_TO_FD",
    "DRM_IOCTL_PRIME_FD_TO_HANDLE", "DRM_IOCTL_SYNCOBJ_CREATE", "DRM_IOCTL_SYNCOBJ_DESTROY",
    "DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD", "DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE", "DRM_IOCTL_SYNCOBJ_WAIT",
    "DRM_IOCTL_SYNCOBJ_RESET", "DRM_IOCTL_SYNCOBJ_SIGNAL", "DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT",
    "DRM_IOCTL_SYNCOBJ_QUERY", "DRM_IOCTL_SYNCOBJ_TRANSFER", "DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL",
    "sync_merge_data", "sync_fence_info", "sync_file_info", "SYNC_IOC_MAGIC", "SYNC_IOC_MERGE",
    "SYNC_IOC_FILE_INFO", "dma_buf_sync", "DMA_BUF_SYNC_READ", "DMA_BUF_SYNC_WRITE",
    "DMA_BUF_SYNC_RW", "DMA_BUF_SYNC_START", "DMA_BUF_SYNC_END", "DMA_BUF_SYNC_VALID_FLAGS_MASK",
    "DMA_BUF_BASE", "DMA_BUF_IOCTL_SYNC",
]
