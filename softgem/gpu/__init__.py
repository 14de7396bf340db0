"""softgem.gpu (L3): the software GPU -- address spaces, bindings, contexts, engines.

It may import base, mm, notifier and gem.  ``attach(dev)`` plugs a :class:`Gpu` into a
:class:`~softgem.gem.GemDevice` (``dev.gpu``, the ``GpuHooks`` GEM calls back).

Address translation: every context has a full 48-bit PPGTT (:class:`Ppgtt`); the device has
one :class:`Ggtt`.  Objects enter a space as :class:`GpuVma` bindings placed by a first-fit
:class:`DrmMM` with LRU eviction; the GPU reads and writes memory only through
:meth:`AddressSpace.resolve` (unmapped ranges hit the scratch page, read-only PTEs drop
writes).
"""

from __future__ import annotations

from .context import BAN_AFTER_HANGS, Context
from .drm_mm import DrmMM, DrmMMNode
from .evict import evict_vm
from .file_priv import (
    GpuFile,
    context_create,
    context_destroy,
    context_getparam,
    context_setparam,
    file_state,
    get_reset_stats,
    lookup_context,
    vm_create,
    vm_destroy,
)
from .ggtt import Ggtt
from .gpu import DEFAULT_HANG_TIMEOUT, Gpu, GpuStatistics, attach
from .hang import manual_reset
from .ppgtt import Ppgtt
from .vm import SCRATCH, AddressSpace, Run
from .vma import (
    PIN_GLOBAL,
    PIN_HIGH,
    PIN_MAPPABLE,
    PIN_NOEVICT,
    PIN_NONBLOCK,
    PIN_OFFSET_BIAS,
    PIN_OFFSET_FIXED,
    PIN_OFFSET_MASK,
    PIN_USER,
    PIN_ZONE_4G,
    GpuVma,
)

__all__ = [
    "BAN_AFTER_HANGS",
    "DEFAULT_HANG_TIMEOUT",
    "PIN_GLOBAL",
    "PIN_HIGH",
    "PIN_MAPPABLE",
    "PIN_NOEVICT",
    "PIN_NONBLOCK",
    "PIN_OFFSET_BIAS",
    "PIN_OFFSET_FIXED",
    "PIN_OFFSET_MASK",
    "PIN_USER",
    "PIN_ZONE_4G",
    "SCRATCH",
    "AddressSpace",
    "Context",
    "DrmMM",
    "DrmMMNode",
    "Ggtt",
    "Gpu",
    "GpuStatistics",
    "manual_reset",
    "GpuFile",
    "GpuVma",
    "Ppgtt",
    "Run",
    "attach",
    "context_create",
    "context_destroy",
    "context_getparam",
    "context_setparam",
    "evict_vm",
    "file_state",
    "get_reset_stats",
    "lookup_context",
    "vm_create",
    "vm_destroy",
    "Engine",
    "ExecArgs",
    "ExecObject",
    "Execbuf",
    "Request",
    "SyncFile",
    "ENGINE_CLASS_COPY",
    "MI_BATCH_BUFFER_END",
    "MI_NOOP",
    "execbuffer2",
    "execbuffer2_ioctl",
    "xy_src_copy_blt",
    "setup_engines", "MMIO_BASE",
    "sync_file_create",
    "sync_file_get_fence",
    "sync_file_merge",
    "SW_SYNC_PATHS", "SwSyncTimeline", "SyncPt",
    "ChainFence", "Syncobj", "SyncobjFile", "signaled_stub", "syncobj_destroy", "syncobj_find",
    "syncobj_get_handle", "WAIT_ALL", "WAIT_AVAILABLE", "WAIT_FOR_SUBMIT", "array_wait",
    "find_fence", "timeout_abs_to_seconds",
]

# Requests, engines, execbuf and sync_file build on the names above; imported last.
from .blitter import xy_src_copy_blt
from .cmdparser import ENGINE_CLASS_COPY
from .engine import MMIO_BASE, Engine, setup_engines
from .execbuf import Execbuf, execbuffer2, execbuffer2_ioctl
from .execbuf_args import ExecArgs, ExecObject
from .mi import MI_BATCH_BUFFER_END, MI_NOOP
from .request import Request
from .sw_sync import SW_SYNC_PATHS, SwSyncTimeline, SyncPt
from .sync_file import SyncFile, sync_file_create, sync_file_get_fence, sync_file_merge
from .syncobj import (
    ChainFence,
    Syncobj,
    SyncobjFile,
    signaled_stub,
    syncobj_destroy,
    syncobj_find,
    syncobj_get_handle,
)
from .syncobj_wait import (
    WAIT_ALL,
    WAIT_AVAILABLE,
    WAIT_FOR_SUBMIT,
    array_wait,
    find_fence,
    timeout_abs_to_seconds,
)
