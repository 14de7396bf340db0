"""DRM core ioctls that are not about GEM objects: VERSION, GET_UNIQUE, GET_CAP, SET_VERSION...

The device softgem models is a gen9 i915 **without display** (the configuration the kernel
gets with the display fused off or ``i915.disable_display``: ``DRIVER_MODESET`` and
``DRIVER_ATOMIC`` are cleared).  That choice decides several answers, each as the DRM core
gives it for such a device:

* every KMS ioctl (``DRM_IOCTL_MODE_*``, WAIT_VBLANK, CRTC sequences, leases) -> EOPNOTSUPP;
* GET_CAP answers the render-only capabilities (TIMESTAMP_MONOTONIC, PRIME, SYNCOBJ,
  SYNCOBJ_TIMELINE) and gives EOPNOTSUPP for every other capability, known or not (a KMS
  device would give EINVAL for an unknown one);
* SET_CLIENT_CAP -> EOPNOTSUPP (all client caps are KMS ones).

Sync objects are served (:mod:`.handlers_syncobj`): DRM_CAP_SYNCOBJ(_TIMELINE) read 1.
Only SYNCOBJ_EVENTFD still answers EOPNOTSUPP (no eventfds are modelled).
"""

from __future__ import annotations

import ctypes
from ctypes import c_int32, c_uint64
from typing import TYPE_CHECKING, Any

from ..abi import (
    DRM_CAP_PRIME,
    DRM_CAP_SYNCOBJ,
    DRM_CAP_SYNCOBJ_TIMELINE,
    DRM_CAP_TIMESTAMP_MONOTONIC,
    DRM_PRIME_CAP_EXPORT,
    DRM_PRIME_CAP_IMPORT,
    UapiStruct,
    drm_get_cap,
    drm_set_version,
    drm_unique,
    drm_version,
)
from ..errors import EINVAL, EOPNOTSUPP, KernelError
from .handlers_auth import master_state
from .usercopy import copy_to_user

if TYPE_CHECKING:
    from .context import IoctlContext

__all__ = [
    "DRIVER_DATE", "DRIVER_DESC", "DRIVER_NAME", "DRIVER_MAJOR", "DRIVER_MINOR",
    "DRIVER_PATCHLEVEL", "DRM_IF_MAJOR", "DRM_IF_MINOR", "BUS_ID", "EXTRA_REQUESTS",
    "drm_client", "drm_stats",
    "get_cap", "get_client", "get_stats", "get_unique", "kms_unsupported", "set_client_cap",
    "set_version", "syncobj_unsupported", "version",
]

# i915_driver.h / i915_driver.c (v6.8)
DRIVER_NAME = "i915"
DRIVER_DESC = "Intel Graphics"
DRIVER_DATE = "20230929"
DRIVER_MAJOR = 1
DRIVER_MINOR = 6
DRIVER_PATCHLEVEL = 0
# The DRM interface version SET_VERSION negotiates (drm_ioctl.c).
DRM_IF_MAJOR = 1
DRM_IF_MINOR = 4
# dev_name() of the integrated GPU's PCI function: what GET_UNIQUE reports after SET_VERSION.
BUS_ID = "0000:00:02.0"
_OVERFLOWUID = 65534

# Core requests softgem.uapi does not define (display, legacy drawables, client statistics):
# numbers as libdrm 2.4.114's drm.h computes them, plus the two v6.6+/v6.8 additions.
EXTRA_REQUESTS: dict[str, int] = {
    "GET_CLIENT": 0xC0286405, "GET_STATS": 0x80F86406, "BLOCK": 0xC0046412,
    "UNBLOCK": 0xC0046413, "ADD_DRAW": 0xC0046427, "RM_DRAW": 0xC0046428,
    "FINISH": 0x4008642C, "WAIT_VBLANK": 0xC018643A, "CRTC_GET_SEQUENCE": 0xC018643B,
    "CRTC_QUEUE_SEQUENCE": 0xC018643C, "UPDATE_DRAW": 0x4018643F,
    "MODE_GETRESOURCES": 0xC04064A0, "MODE_GETCRTC": 0xC06864A1, "MODE_SETCRTC": 0xC06864A2,
    "MODE_CURSOR": 0xC01C64A3, "MODE_GETGAMMA": 0xC02064A4, "MODE_SETGAMMA": 0xC02064A5,
    "MODE_GETENCODER": 0xC01464A6, "MODE_GETCONNECTOR": 0xC05064A7,
    "MODE_ATTACHMODE": 0xC04864A8, "MODE_DETACHMODE": 0xC04864A9,
    "MODE_GETPROPERTY": 0xC04064AA, "MODE_SETPROPERTY": 0xC01064AB,
    "MODE_GETPROPBLOB": 0xC01064AC, "MODE_GETFB": 0xC01C64AD, "MODE_ADDFB": 0xC01C64AE,
    "MODE_RMFB": 0xC00464AF, "MODE_PAGE_FLIP": 0xC01864B0, "MODE_DIRTYFB": 0xC01864B1,
    "MODE_CREATE_DUMB": 0xC02064B2, "MODE_MAP_DUMB": 0xC01064B3,
    "MODE_DESTROY_DUMB": 0xC00464B4, "MODE_GETPLANERESOURCES": 0xC01064B5,
    "MODE_GETPLANE": 0xC02064B6, "MODE_SETPLANE": 0xC03064B7, "MODE_ADDFB2": 0xC06864B8,
    "MODE_OBJ_GETPROPERTIES": 0xC02064B9, "MODE_OBJ_SETPROPERTY": 0xC01864BA,
    "MODE_CURSOR2": 0xC02464BB, "MODE_ATOMIC": 0xC03864BC, "MODE_CREATEPROPBLOB": 0xC01064BD,
    "MODE_DESTROYPROPBLOB": 0xC00464BE, "MODE_CREATE_LEASE": 0xC01864C6,
    "MODE_LIST_LESSEES": 0xC01064C7, "MODE_GET_LEASE": 0xC01064C8,
    "MODE_REVOKE_LEASE": 0xC00464C9, "MODE_GETFB2": 0xC06864CE,
    "SYNCOBJ_EVENTFD": 0xC01864CF, "MODE_CLOSEFB": 0xC00864D0,
}


class drm_client(UapiStruct):
    """``struct drm_client`` (GET_CLIENT): softgem.uapi leaves this DRI1 struct out."""

    _fields_ = [("idx", c_int32), ("auth", c_int32), ("pid", c_uint64), ("uid", c_uint64),
                ("magic", c_uint64), ("iocs", c_uint64)]


class _drm_stat(ctypes.Structure):
    _fields_ = [("value", c_uint64), ("type", c_int32)]


class drm_stats(UapiStruct):
    """``struct drm_stats`` (GET_STATS)."""

    _fields_ = [("count", c_uint64), ("data", _drm_stat * 15)]


def _copy_field(ctx: IoctlContext, v: drm_version, which: str, value: str) -> None:
    """``drm_copy_field``: copy at most the user's length, always report the full length."""
    raw = value.encode()
    room = getattr(v, f"{which}_len")
    n = min(len(raw), room)
    setattr(v, f"{which}_len", len(raw))
    ptr = getattr(v, which)
    if n and ptr:
        copy_to_user(ctx.mm, ptr, raw[:n])


def version(ctx: IoctlContext, v: drm_version) -> int:
    """VERSION: numbers, then name, date, desc; the first EFAULT stops the rest."""
    v.version_major = DRIVER_MAJOR
    v.version_minor = DRIVER_MINOR
    v.version_patchlevel = DRIVER_PATCHLEVEL
    for which, value in (("name", DRIVER_NAME), ("date", DRIVER_DATE), ("desc", DRIVER_DESC)):
        _copy_field(ctx, v, which, value)
    return 0


def get_unique(ctx: IoctlContext, u: drm_unique) -> int:
    """GET_UNIQUE: empty until SET_VERSION >= 1.1 (libdrm's open-by-name depends on it)."""
    st = master_state(ctx.dev)
    with st.lock:
        unique = BUS_ID.encode() if st.unique_set else b""
        if u.unique_len >= len(unique):
            copy_to_user(ctx.mm, u.unique, unique)
        u.unique_len = len(unique)
    return 0


def get_client(ctx: IoctlContext, c: drm_client) -> int:
    """GET_CLIENT: only index 0 (the caller itself) exists; EINVAL ends enumeration."""
    if c.idx != 0:
        raise EINVAL(f"client index {c.idx}")
    c.auth = 1
    c.pid = ctx.task.pid
    c.uid = _OVERFLOWUID
    c.magic = 0
    c.iocs = 0
    return 0


def get_stats(ctx: IoctlContext, s: drm_stats) -> int:
    """GET_STATS: zeroed so userspace does not read its own stack garbage back."""
    ctypes.memset(ctypes.addressof(s), 0, ctypes.sizeof(s))
    return 0


_RENDER_CAPS = {
    DRM_CAP_TIMESTAMP_MONOTONIC: 1,
    DRM_CAP_PRIME: DRM_PRIME_CAP_IMPORT | DRM_PRIME_CAP_EXPORT,
    DRM_CAP_SYNCOBJ: 1,            # i915: DRIVER_SYNCOBJ | DRIVER_SYNCOBJ_TIMELINE
    DRM_CAP_SYNCOBJ_TIMELINE: 1,
}


def get_cap(ctx: IoctlContext, req: drm_get_cap) -> int:
    req.value = 0
    value = _RENDER_CAPS.get(req.capability)
    if value is None:
        raise EOPNOTSUPP(f"capability {req.capability:#x} needs KMS (display-less device)")
    req.value = value
    return 0


def set_client_cap(ctx: IoctlContext, req: Any) -> int:
    raise EOPNOTSUPP("client capabilities need KMS (display-less device)")


def set_version(ctx: IoctlContext, sv: drm_set_version) -> int:
    """SET_VERSION (master): check the requested versions, always report the actual ones."""
    st = master_state(ctx.dev)
    failure: KernelError | None = None
    with st.lock:
        if sv.drm_di_major != -1:
            if (sv.drm_di_major != DRM_IF_MAJOR or not 0 <= sv.drm_di_minor <= DRM_IF_MINOR):
                failure = EINVAL(f"interface {sv.drm_di_major}.{sv.drm_di_minor}")
            elif sv.drm_di_minor >= 1:
                st.unique_set = True
        if failure is None and sv.drm_dd_major != -1 and (
                sv.drm_dd_major != DRIVER_MAJOR or not 0 <= sv.drm_dd_minor <= DRIVER_MINOR):
            failure = EINVAL(f"driver {sv.drm_dd_major}.{sv.drm_dd_minor}")
        sv.drm_di_major, sv.drm_di_minor = DRM_IF_MAJOR, DRM_IF_MINOR
        sv.drm_dd_major, sv.drm_dd_minor = DRIVER_MAJOR, DRIVER_MINOR
    if failure is not None:
        raise failure
    return 0


def kms_unsupported(ctx: IoctlContext, data: Any) -> int:
    raise EOPNOTSUPP("KMS ioctl on a display-less device")


def syncobj_unsupported(ctx: IoctlContext, data: Any) -> int:
    raise EOPNOTSUPP("SYNCOBJ_EVENTFD: eventfds are not modelled")
