"""The DRM_IOCTL_SYNCOBJ_* handlers (``drm_syncobj.c``'s ``*_ioctl`` functions).

Each is the kernel's flat ladder: flag and padding checks (EINVAL), ``count_handles == 0``
(EINVAL), the handle array copied in (ENOMEM when ``kmalloc_array`` would refuse it, then
EFAULT) and looked up (ENOENT), then the body.  Notable errnos that are not ENOENT:
DESTROY and HANDLE_TO_FD of an unknown handle (EINVAL, as ``idr_remove`` / the export
answer), FD_TO_HANDLE of a bad fd or of a file that is not a syncobj (EINVAL, not EBADF),
EXPORT_SYNC_FILE of an empty syncobj (EINVAL) and IMPORT_SYNC_FILE of something that is not a
sync_file (EINVAL, before the handle lookup's ENOENT).  The device is i915, which has
DRIVER_SYNCOBJ and DRIVER_SYNCOBJ_TIMELINE, so no call answers EOPNOTSUPP.  SYNCOBJ_EVENTFD
is not served (there are no eventfds to signal in either world): it stays EOPNOTSUPP.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from ..abi import drm as D
from ..errors import EFAULT, EINVAL, ENOENT, ENOMEM, KernelError
from ..gpu import (
    WAIT_ALL,
    WAIT_AVAILABLE,
    WAIT_FOR_SUBMIT,
    ChainFence,
    Syncobj,
    SyncobjFile,
    array_wait,
    find_fence,
    signaled_stub,
    sync_file_create,
    sync_file_get_fence,
    syncobj_destroy,
    syncobj_find,
    syncobj_get_handle,
    timeout_abs_to_seconds,
)

if TYPE_CHECKING:
    from ..gem import DrmFile
    from .context import IoctlContext

__all__ = ["syncobj_create", "syncobj_destroy_ioctl", "syncobj_fd_to_handle",
           "syncobj_handle_to_fd", "syncobj_query", "syncobj_reset", "syncobj_signal",
           "syncobj_timeline_signal", "syncobj_timeline_wait", "syncobj_transfer",
           "syncobj_wait", "file_syncobjs"]

_O_CLOEXEC = 0o2000000
_KMALLOC_MAX = 4 << 20          # KMALLOC_MAX_SIZE on x86-64 (order-10 pages)


# -- the handle array (drm_syncobj_array_find) ------------------------------------------------
def _array_find(ctx: IoctlContext, ptr: int, count: int) -> list[Syncobj]:
    if count * 4 > _KMALLOC_MAX:
        raise ENOMEM(f"{count} syncobj handles")
    raw = ctx.mm.copy_from_user(ptr, count * 4)
    if count * 8 > _KMALLOC_MAX:
        raise ENOMEM(f"{count} syncobj pointers")
    found: list[Syncobj] = []
    try:
        for handle in struct.unpack(f"<{count}I", raw):
            syncobj = syncobj_find(ctx.file, handle)
            if syncobj is None:
                raise ENOENT(f"syncobj handle {handle}")
            found.append(syncobj)
    except BaseException:
        _array_free(found)
        raise
    return found


def _array_free(syncobjs: list[Syncobj]) -> None:
    for s in syncobjs:
        s.put()


def _points(ctx: IoctlContext, ptr: int, count: int) -> list[int]:
    if not ptr:
        return [0] * count
    try:
        return list(struct.unpack(f"<{count}Q", ctx.mm.copy_from_user(ptr, count * 8)))
    except KernelError:
        raise EFAULT(f"points array {ptr:#x}") from None


# -- create / destroy ----------------------------------------------------------------------------
def syncobj_create(ctx: IoctlContext, args: D.drm_syncobj_create) -> int:
    if args.flags & ~D.DRM_SYNCOBJ_CREATE_SIGNALED:
        raise EINVAL(f"syncobj create flags {args.flags:#x}")
    syncobj = Syncobj()
    if args.flags & D.DRM_SYNCOBJ_CREATE_SIGNALED:
        syncobj.assign_null_handle()
    try:
        args.handle = syncobj_get_handle(ctx.file, syncobj)
    finally:
        syncobj.put()
    return 0


def syncobj_destroy_ioctl(ctx: IoctlContext, args: D.drm_syncobj_destroy) -> int:
    if args.pad:
        raise EINVAL("pad")
    syncobj_destroy(ctx.file, args.handle)
    return 0


# -- fds -----------------------------------------------------------------------------------------
def _install(ctx: IoctlContext, fd: int, f: object) -> int:
    try:
        return int(ctx.task.fd_install_reserved(fd, f))
    except BaseException:
        ctx.task.put_unused_fd(fd)
        raise


def syncobj_handle_to_fd(ctx: IoctlContext, args: D.drm_syncobj_handle) -> int:
    if args.pad:
        raise EINVAL("pad")
    export = D.DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE
    if args.flags not in (0, export):
        raise EINVAL(f"syncobj handle_to_fd flags {args.flags:#x}")
    task = ctx.task
    if args.flags & export:
        fd = task.get_unused_fd_flags(_O_CLOEXEC)
        try:
            fence = find_fence(ctx.file, args.handle, 0, 0)
        except BaseException:
            task.put_unused_fd(fd)
            raise
        args.fd = _install(ctx, fd, sync_file_create(fence))
        return 0
    syncobj = syncobj_find(ctx.file, args.handle)
    if syncobj is None:
        raise EINVAL(f"syncobj handle {args.handle}")
    try:
        fd = task.get_unused_fd_flags(_O_CLOEXEC)
        args.fd = _install(ctx, fd, SyncobjFile(syncobj))
    finally:
        syncobj.put()
    return 0


def syncobj_fd_to_handle(ctx: IoctlContext, args: D.drm_syncobj_handle) -> int:
    if args.pad:
        raise EINVAL("pad")
    imp = D.DRM_SYNCOBJ_FD_TO_HANDLE_FLAGS_IMPORT_SYNC_FILE
    if args.flags not in (0, imp):
        raise EINVAL(f"syncobj fd_to_handle flags {args.flags:#x}")
    if args.flags & imp:
        fence = sync_file_get_fence(ctx.task, args.fd)
        syncobj = syncobj_find(ctx.file, args.handle)
        if syncobj is None:
            raise ENOENT(f"syncobj handle {args.handle}")
        syncobj.replace_fence(fence)
        syncobj.put()
        return 0
    try:
        f = ctx.task.fd_get(args.fd)
    except KernelError:
        raise EINVAL(f"fd {args.fd}") from None
    try:
        if not isinstance(f, SyncobjFile):
            raise EINVAL(f"fd {args.fd} is not a syncobj")
        args.handle = syncobj_get_handle(ctx.file, f.object())
    finally:
        ctx.task.fd_put(f)
    return 0


# -- waits ---------------------------------------------------------------------------------------
def syncobj_wait(ctx: IoctlContext, args: D.drm_syncobj_wait) -> int:
    if args.flags & ~(WAIT_ALL | WAIT_FOR_SUBMIT):
        raise EINVAL(f"syncobj wait flags {args.flags:#x}")
    if args.count_handles == 0:
        raise EINVAL("no handles")
    syncobjs = _array_find(ctx, args.handles, args.count_handles)
    try:
        timeout = timeout_abs_to_seconds(args.timeout_nsec)
        args.first_signaled = array_wait(syncobjs, [0] * len(syncobjs), args.flags, timeout)
    finally:
        _array_free(syncobjs)
    return 0


def syncobj_timeline_wait(ctx: IoctlContext, args: D.drm_syncobj_timeline_wait) -> int:
    if args.flags & ~(WAIT_ALL | WAIT_FOR_SUBMIT | WAIT_AVAILABLE):
        raise EINVAL(f"syncobj timeline wait flags {args.flags:#x}")
    if args.count_handles == 0:
        raise EINVAL("no handles")
    syncobjs = _array_find(ctx, args.handles, args.count_handles)
    try:
        timeout = timeout_abs_to_seconds(args.timeout_nsec)
        points = _points(ctx, args.points, len(syncobjs))
        args.first_signaled = array_wait(syncobjs, points, args.flags, timeout)
    finally:
        _array_free(syncobjs)
    return 0


# -- reset / signal / timeline signal / query / transfer ----------------------------------------
def _binary_array(ctx: IoctlContext, args: D.drm_syncobj_array) -> list[Syncobj]:
    if args.pad:
        raise EINVAL("pad")
    if args.count_handles == 0:
        raise EINVAL("no handles")
    return _array_find(ctx, args.handles, args.count_handles)


def syncobj_reset(ctx: IoctlContext, args: D.drm_syncobj_array) -> int:
    syncobjs = _binary_array(ctx, args)
    for s in syncobjs:
        s.replace_fence(None)
    _array_free(syncobjs)
    return 0


def syncobj_signal(ctx: IoctlContext, args: D.drm_syncobj_array) -> int:
    syncobjs = _binary_array(ctx, args)
    for s in syncobjs:
        s.assign_null_handle()
    _array_free(syncobjs)
    return 0


def _timeline_array(ctx: IoctlContext, args: D.drm_syncobj_timeline_array,
                    allowed: int) -> list[Syncobj]:
    if args.flags & ~allowed:
        raise EINVAL(f"syncobj flags {args.flags:#x}")
    if args.count_handles == 0:
        raise EINVAL("no handles")
    return _array_find(ctx, args.handles, args.count_handles)


def syncobj_timeline_signal(ctx: IoctlContext, args: D.drm_syncobj_timeline_array) -> int:
    syncobjs = _timeline_array(ctx, args, 0)
    try:
        points = _points(ctx, args.points, len(syncobjs))
        for s, point in zip(syncobjs, points, strict=True):
            s.add_point(signaled_stub(), point)
    finally:
        _array_free(syncobjs)
    return 0


def _query_point(syncobj: Syncobj, last_submitted: bool) -> int:
    """The timeline's last signalled point (or its head with LAST_SUBMITTED); 0 when the
    slot holds no chain."""
    head = syncobj.fence_get()
    if not isinstance(head, ChainFence):
        return 0
    if last_submitted:
        return head.seqno
    node: ChainFence = head
    while not node.signaled():
        prev = node.prev
        if not isinstance(prev, ChainFence) or prev.context != head.context:
            return node.prev_seqno
        node = prev
    return node.seqno


def syncobj_query(ctx: IoctlContext, args: D.drm_syncobj_timeline_array) -> int:
    last = D.DRM_SYNCOBJ_QUERY_FLAGS_LAST_SUBMITTED
    syncobjs = _timeline_array(ctx, args, last)
    try:
        for i, s in enumerate(syncobjs):
            point = _query_point(s, bool(args.flags & last))
            try:
                ctx.mm.copy_to_user(args.points + 8 * i, struct.pack("<Q", point))
            except KernelError:
                raise EFAULT(f"points array {args.points:#x}") from None
    finally:
        _array_free(syncobjs)
    return 0


def syncobj_transfer(ctx: IoctlContext, args: D.drm_syncobj_transfer) -> int:
    if args.pad:
        raise EINVAL("pad")
    dst = syncobj_find(ctx.file, args.dst_handle)
    if dst is None:
        raise ENOENT(f"syncobj handle {args.dst_handle}")
    try:
        fence = find_fence(ctx.file, args.src_handle, args.src_point, args.flags)
        if args.dst_point:
            dst.add_point(fence, args.dst_point)
        else:
            dst.replace_fence(fence)
    finally:
        dst.put()
    return 0


def file_syncobjs(file: DrmFile) -> int:
    """How many syncobj handles ``file`` holds (for tests and counters)."""
    with file.syncobj_lock:
        return len(file.syncobjs)

