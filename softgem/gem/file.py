"""A DRM file (``struct drm_file``): one per open of the device, with its handle table.

Handles are allocated lowest-free-first starting at 1, as ``idr_alloc(idr, obj, 1, 0)`` does.
All handles of an object share one object reference (taken when ``handle_count`` goes 0 -> 1);
closing a handle runs the per-file close hook (revoking that file's mmap offsets) and drops the
flink name and the exported dma-buf with the last handle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import trace
from ..errors import EINVAL, ENOENT
from ..sync import Mutex, SpinLock

if TYPE_CHECKING:
    from .device import GemDevice
    from .object import GemObject

__all__ = ["DrmFile", "RENDER_MINOR_BASE"]

RENDER_MINOR_BASE = 128


class DrmFile:
    def __init__(self, dev: GemDevice, minor: int) -> None:
        self.dev = dev
        self.minor = minor
        self.is_render = minor >= RENDER_MINOR_BASE
        self.table_lock = SpinLock("drm.file.table_lock")
        self.prime_lock = Mutex("drm.file.prime_lock")
        self._handles: dict[int, GemObject] = {}
        self.prime_handles: dict[int, Any] = {}   # handle -> dma-buf imported/exported here
        self.driver_priv: Any = None               # the GPU layer's per-file state (contexts)
        self.syncobj_lock = SpinLock("drm.file.syncobj_table_lock")
        self.syncobjs: dict[int, Any] = {}         # syncobj handle -> softgem.gpu Syncobj
        self.closed = False

    def __repr__(self) -> str:
        return f"<DrmFile minor={self.minor} handles={len(self._handles)}>"

    # -- handles -----------------------------------------------------------------------------
    def handle_create(self, obj: GemObject) -> int:
        """Give ``obj`` a handle in this file (``drm_gem_handle_create``)."""
        dev = self.dev
        with dev.object_name_lock:
            if obj.handle_count == 0:
                obj.get()
            obj.handle_count += 1
            with self.table_lock:
                handle = 1
                while handle in self._handles:
                    handle += 1
                self._handles[handle] = obj
        if trace.enabled:
            trace.emit("gem", "handle_create", handle=handle, obj=obj.id)
        return handle

    def lookup(self, handle: int) -> GemObject:
        """The object behind ``handle`` with a new reference (ENOENT if none)."""
        with self.table_lock:
            obj = self._handles.get(handle)
            if obj is None:
                raise ENOENT(f"handle {handle}")
            obj.get()
            return obj

    def handle_delete(self, handle: int) -> None:
        """GEM_CLOSE: EINVAL for a handle this file does not have."""
        with self.table_lock:
            obj = self._handles.pop(handle, None)
        if obj is None:
            raise EINVAL(f"no handle {handle}")
        self._release_handle(handle, obj)

    def _release_handle(self, handle: int, obj: GemObject) -> None:
        obj.close(self)
        self.prime_handles.pop(handle, None)
        if trace.enabled:
            trace.emit("gem", "handle_close", handle=handle, obj=obj.id)
        self.handle_put(obj)

    def handle_put(self, obj: GemObject) -> None:
        dev = self.dev
        final = False
        with dev.object_name_lock:
            obj.handle_count -= 1
            if obj.handle_count == 0:
                dev.name_remove(obj)
                final = True
        if final:
            buf, obj.dma_buf = obj.dma_buf, None
            if buf is not None:
                buf.exporter_handle_gone()
            obj.put()

    def nr_handles(self) -> int:
        return len(self._handles)

    def handles(self) -> dict[int, GemObject]:
        with self.table_lock:
            return dict(self._handles)

    def handle_of(self, obj: GemObject) -> int | None:
        with self.table_lock:
            for h, o in self._handles.items():
                if o is obj:
                    return h
        return None

    # -- release ------------------------------------------------------------------------------
    def release(self) -> None:
        """The last reference to the open file went away (``drm_release`` -> postclose)."""
        if self.closed:
            return
        self.closed = True
        gpu = self.dev.gpu
        if gpu is not None:
            gpu.file_release(self)
        with self.table_lock:
            items = sorted(self._handles.items())
            self._handles.clear()
        for handle, obj in items:
            self._release_handle(handle, obj)
        with self.syncobj_lock:                    # drm_syncobj_release
            syncobjs = [self.syncobjs[h] for h in sorted(self.syncobjs)]
            self.syncobjs.clear()
        for syncobj in syncobjs:
            syncobj.put()
        self.dev.file_released(self)
