"""GPU hangs: how a stuck batch is detected, who is blamed, and what a reset undoes.

The command streamer (:mod:`.cmdparser`) raises :class:`GpuHang` when a batch outruns the
hang timeout (``gpu.hang_timeout`` seconds, default :data:`DEFAULT_HANG_TIMEOUT`) or when it
meets a command it cannot execute (an unknown opcode, a malformed length, a fetch from an
unmapped address).  The engine then calls :func:`reset`, which does what
``intel_gt_handle_error`` + ``__intel_gt_reset`` do to the guilty request:

1. the request's fence completes with ``-EIO`` (the batch is abandoned where it stopped:
   whatever it wrote before stays written);
2. its context is marked guilty (:func:`mark_guilty`), and banned when the kernel would ban
   it; a banned context's queued requests are cancelled with ``-EIO`` on every engine, and
   later execbufs on it fail with EIO (execbuf checks ``ctx.banned``);
3. every GTT mmap is revoked (``revoke_all_gtt_mmaps``): the next CPU access faults again.

Kernel difference, deliberate: gen9 first tries a per-engine reset,
which does not touch GTT mmaps; this model always performs what a full-chip reset does to
mmaps.  Other engines' work is not disturbed (an engine reset does not disturb them either).

The ban rule belongs to the context (``Context.mark_guilty``, after ``context_mark_guilty``
in gt/intel_reset.c): every hang counts; a bannable context is banned when it is not
recoverable or at its third hang (the kernel: the third within 120 s):

==============================  ===============================================================
context params                  outcome of a hang
==============================  ===============================================================
BANNABLE = 0                    counted, never banned
RECOVERABLE = 0                 banned at the first hang
otherwise                       banned at the :data:`BAN_AFTER_HANGS`-th hang
==============================  ===============================================================
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Protocol

from .. import trace

if TYPE_CHECKING:
    from .engine import Engine
    from .gpu import Gpu
    from .request import Request

__all__ = ["BAN_AFTER_HANGS", "DEFAULT_HANG_TIMEOUT", "CsStopped", "GpuHang",
           "ENGINE_ID", "GuiltyContext", "hang_timeout", "manual_reset", "mark_guilty", "reset"]

#: Seconds a batch may run before it counts as hung (``gpu.hang_timeout`` overrides it).
DEFAULT_HANG_TIMEOUT = 2.0

#: The kernel's engine ids (``enum intel_engine_id``): bit ``1 << id`` of an engine mask.
ENGINE_ID = {"rcs0": 0, "bcs0": 1, "vcs0": 2, "vecs0": 10}

#: Seconds a manual reset waits for the engine to let go of its request.
MANUAL_RESET_WAIT = 10.0

#: The hang that bans a bannable, recoverable context (``Context.BAN_AFTER_HANGS`` too).
BAN_AFTER_HANGS = 3


class GpuHang(Exception):
    """The command streamer cannot go on: raised inside :func:`cmdparser.execute`."""

    def __init__(self, reason: str, addr: int = 0) -> None:
        super().__init__(f"{reason} at {addr:#x}")
        self.reason = reason
        self.addr = addr


class CsStopped(Exception):
    """The running request was cancelled from outside (ban, context close): stop now."""

    def __init__(self, err: int) -> None:
        super().__init__(errno.errorcode.get(err, str(err)))
        self.errno = err


class GuiltyContext(Protocol):
    """What hang handling reads and updates on a context (:class:`~.context.Context`)."""

    hangs: int
    banned: bool

    def mark_guilty(self) -> bool:
        """Count one hang; True when the context is (now) banned."""


def hang_timeout(gpu: Gpu) -> float:
    """The configured hang timeout of ``gpu`` in seconds."""
    return float(gpu.hang_timeout)


def mark_guilty(ctx: GuiltyContext | None) -> bool:
    """Count a hang against ``ctx``; True when it is (now) banned.  See the module table."""
    if ctx is None:
        return False
    return bool(ctx.mark_guilty())


def reset(engine: Engine, rq: Request, hang: GpuHang) -> None:
    """Recover from ``hang`` of ``rq`` on ``engine`` (steps 1-3 of the module doc).

    Runs in the engine thread after the command streamer stopped, outside the fence
    signalling section (it zaps CPU mappings), before the request's fence is signalled.
    """
    gpu = engine.gpu
    engine.resets += 1
    rq.hang = hang
    rq.set_error_once(errno.EIO)
    banned = mark_guilty(rq.ctx)
    if trace.enabled:
        trace.emit("gpu", "hang", engine=engine.name, seqno=rq.seqno, reason=hang.reason,
                   addr=hang.addr, banned=banned)
    if banned:
        for other in list(gpu.engines.values()):
            other.cancel_context(rq.ctx, errno.EIO)
    from ..gem import revoke_all_gtt_mmaps

    revoke_all_gtt_mmaps(gpu.dev)
    if trace.enabled:
        trace.emit("gpu", "reset", engine=engine.name, resets=engine.resets)


def _wait_let_go(engine: Engine, rq: Request) -> None:
    def gone() -> bool:
        return engine.active is not rq
    engine.wait_for(gone, MANUAL_RESET_WAIT)


def manual_reset(gpu: Gpu, engine_mask: int) -> int:
    """``intel_gt_handle_error`` for a requested reset (a write to debugfs ``i915_wedged``):
    the request running on each engine of ``engine_mask`` is treated as hung -- its command
    streamer stops at its next check and :func:`reset` runs, so it completes with -EIO and
    its context is marked guilty -- and the call returns once every such engine has let go
    of it, as the kernel's write returns after the reset.  Idle engines are untouched (the
    kernel's reset of an idle engine changes nothing a program sees).  Returns how many
    requests were reset."""
    victims: list[tuple[Engine, Request]] = []
    for engine in list(gpu.engines.values()):
        bit = ENGINE_ID.get(engine.name)
        if bit is None or not engine_mask >> bit & 1:
            continue
        with engine.lock:
            rq = engine.active
            if rq is not None and rq.cs is not None:
                rq.cs.forced = True
                victims.append((engine, rq))
    for engine, rq in victims:
        _wait_let_go(engine, rq)
    if trace.enabled:
        trace.emit("gpu", "manual_reset", mask=engine_mask, requests=len(victims))
    return len(victims)
