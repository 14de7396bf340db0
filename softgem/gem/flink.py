"""FLINK and OPEN: global names for objects, shared across every open of the device.

A name is allocated lowest-free-first from 1 the first time a handle of the object is
flinked, and names the object until its last handle is closed (``DrmFile.handle_put`` removes
it); the name holds no reference of its own.  Anyone who knows the name can OPEN it and get a
handle in their own file -- which is why the uAPI layer allows FLINK/OPEN only on
authenticated primary nodes, never on render nodes (it checks that, not this module).

``dev.object_name_lock`` serialises names against the last handle going away:

==========================  ======================================================================
path                        under object_name_lock
==========================  ======================================================================
flink                       handle_count == 0 -> ENOENT (a racing GEM_CLOSE won); name alloc
open                        name lookup and the reference on the object
handle_put (DrmFile)        handle_count -= 1; the name goes with the last handle
==========================  ======================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import trace
from ..errors import ENOENT

if TYPE_CHECKING:
    from .device import GemDevice
    from .file import DrmFile

__all__ = ["flink", "gem_open"]


def flink(dev: GemDevice, file: DrmFile, handle: int) -> int:
    """DRM_IOCTL_GEM_FLINK: the object's global name (allocated on first use).

    Raises ENOENT for a bad handle, or when the object lost its last handle meanwhile.
    """
    obj = file.lookup(handle)
    try:
        with dev.object_name_lock:
            if obj.handle_count == 0:
                raise ENOENT(f"{obj!r} has no handle left")
            name = obj.name or dev.name_alloc(obj)
        if trace.enabled:
            trace.emit("gem", "flink", obj=obj.id, flink_name=name)
        return name
    finally:
        obj.put()


def gem_open(dev: GemDevice, file: DrmFile, name: int) -> tuple[int, int]:
    """DRM_IOCTL_GEM_OPEN: a new handle in ``file`` for the named object; ``(handle, size)``.

    Raises ENOENT for a name nobody holds (names are never 0).
    """
    with dev.object_name_lock:
        obj = dev.name_lookup(name).get()
    try:
        # The kernel creates the handle before dropping object_name_lock
        # (drm_gem_handle_create_tail); DrmFile.handle_create takes that lock itself.
        handle = file.handle_create(obj)
        size = obj.size
    finally:
        obj.put()
    if trace.enabled:
        trace.emit("gem", "gem_open", flink_name=name, handle=handle)
    return handle, size
