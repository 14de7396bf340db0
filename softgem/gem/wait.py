"""BUSY and WAIT: which engines still use an object, and waiting until none does.

Both look only at the object's reservation (``obj.resv``), so requests plug in by adding their
fences there: a WRITE-usage fence (or KERNEL) is the exclusive fence, READ ones the shared
fences, BOOKKEEP ones are not waited for here.  A fence is an i915 request when it carries the
``uabi_class`` of its engine (:class:`EngineFence`); a composite fence (parallel submission)
lists its requests in ``children``.  Fences without an engine class are foreign: BUSY does not
report them (the kernel's documented discrepancy), WAIT waits for them all the same.

BUSY's word, as the uAPI defines it:

==================  ===========================================================================
bits                meaning
==================  ===========================================================================
0..15               the writing engine's uabi class + 1 (0 when no write is pending)
16..31              one bit per uabi class with a pending read; a writer also sets its read bit
==================  ===========================================================================

WAIT's timeout (ns): negative waits forever and is left as is; 0 polls (ETIME when busy); a
positive one is reduced by the time actually spent blocking and is 0 after an ETIME.  Only a
wait that blocks reads the clock (the injected ``clock``), so an idle object answers without
looking at time and runs are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from .. import trace
from ..abi import I915_ENGINE_CLASS_INVALID as _CLASS_INVALID
from ..errors import EINVAL, ETIME
from ..sync import clock as sync_clock
from .resv import FenceLike, Usage

if TYPE_CHECKING:
    from .device import GemDevice
    from .file import DrmFile
    from .object import GemObject

__all__ = ["EngineFence", "I915_ENGINE_CLASS_INVALID", "busy", "busy_flags", "object_wait",
           "wait"]

#: the header's -1 as the u16 an engine's uabi_class field holds: "some engine", reported as
#: every engine
I915_ENGINE_CLASS_INVALID = _CLASS_INVALID & 0xFFFF


class EngineFence(FenceLike, Protocol):
    """A fence that is an i915 request: the uabi class of the engine that runs it."""

    uabi_class: int


def _read_flag(uabi_class: int) -> int:
    if uabi_class == I915_ENGINE_CLASS_INVALID:
        return 0xFFFF0000
    return 0x10000 << uabi_class


def _write_id(uabi_class: int) -> int:
    if uabi_class == I915_ENGINE_CLASS_INVALID:
        return 0xFFFFFFFF
    return (uabi_class + 1) | _read_flag(uabi_class)


def _engine_class(fence: object) -> int | None:
    cls = getattr(fence, "uabi_class", None)
    return cls if isinstance(cls, int) else None


def _set_if_active(fence: FenceLike, flag: Callable[[int], int]) -> int:
    """The busy bits of one fence (``__busy_set_if_active``)."""
    children: Iterable[FenceLike] | None = getattr(fence, "children", None)
    if children is not None:
        for child in children:
            cls = _engine_class(child)
            if cls is None:
                return 0      # not all i915 requests: cannot be reported
            if not child.signaled():
                return flag(cls)
        return 0
    cls = _engine_class(fence)
    if cls is None or fence.signaled():
        return 0
    return flag(cls)


def busy_flags(obj: GemObject) -> int:
    """The BUSY word of ``obj`` now (see the module table)."""
    writers = obj.resv.fences(Usage.WRITE)
    busy = 0
    for fence in writers:
        busy |= _set_if_active(fence, _write_id)
    for fence in obj.resv.fences(Usage.READ):
        if not any(fence is w for w in writers):
            busy |= _set_if_active(fence, _read_flag)
    return busy


def busy(dev: GemDevice, file: DrmFile, handle: int) -> int:
    """I915_GEM_BUSY: the busy word of the object behind ``handle`` (ENOENT if none)."""
    obj = file.lookup(handle)
    try:
        return busy_flags(obj)
    finally:
        obj.put()


def object_wait(obj: GemObject, *, all_fences: bool, timeout: float | None = None) -> bool:
    """Wait for the writers (and readers too if ``all_fences``) of ``obj``.

    ``i915_gem_object_wait`` with or without I915_WAIT_ALL; False when ``timeout`` seconds
    passed first.
    """
    return obj.resv.wait(Usage.READ if all_fences else Usage.WRITE, timeout)


def wait(dev: GemDevice, file: DrmFile, handle: int, flags: int, timeout_ns: int, *,
         clock: Callable[[], int] | None = None) -> int:
    """I915_GEM_WAIT: wait for every fence of the object; returns the remaining timeout (ns).

    Raises EINVAL for non-zero flags (before the lookup), ENOENT for a bad handle, ETIME when
    the object is still busy when the timeout expires (remaining time then 0, or unchanged for
    a 0 timeout).
    """
    if flags:
        raise EINVAL(f"wait flags {flags:#x}")
    if clock is None:
        clock = sync_clock.monotonic_ns
    obj = file.lookup(handle)
    try:
        if not obj.resv.fences(Usage.READ):
            return timeout_ns
        if timeout_ns == 0:
            raise ETIME("object busy")
        if timeout_ns < 0:
            object_wait(obj, all_fences=True)
            return timeout_ns
        start = clock()
        done = object_wait(obj, all_fences=True, timeout=timeout_ns / 1e9)
        remaining = max(0, timeout_ns - (clock() - start))
        if trace.enabled:
            trace.emit("gem", "wait", obj=obj.id, done=done, remaining=remaining)
        if not done:
            raise ETIME("object still busy after the timeout")
        return remaining
    finally:
        obj.put()
