"""``eb_move_to_gpu``: the last step of building an execbuf's request, under every object's
lock -- the request awaits the objects' implicit fences, then each object becomes active on
it (:mod:`.execbuf`, step 10).

Implicit fencing follows ``i915_request_await_object``: a reader waits for the writers, a
writer for everyone, except fences of the same context's timeline on the same engine (already
ordered) and objects flagged EXEC_OBJECT_ASYNC.  Activity follows ``i915_vma_move_to_active``:
the vma keeps its binding until the request retires, the request's fence enters the object's
reservation (WRITE for EXEC_OBJECT_WRITE, else READ) and the domains move to the GPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..gem import Usage
from . import execbuf_args as A

if TYPE_CHECKING:
    from .request import Request

__all__ = ["move_to_gpu"]

_DOMAIN_RENDER = 0x2
_GPU_DOMAINS = 0x3E


def move_to_gpu(rq: Request, vmas: Sequence[A.EbVma]) -> None:
    """Await the implicit fences of ``vmas``' objects, then make each active on ``rq``."""
    _await_implicit(rq, vmas)
    _move_to_active(rq, vmas)


def _await_implicit(rq: Request, vmas: Sequence[A.EbVma]) -> None:
    for ev in reversed(vmas):
        if ev.flags & A.EXEC_OBJECT_ASYNC:
            continue
        usage = Usage.READ if ev.flags & A.EXEC_OBJECT_WRITE else Usage.WRITE
        for fence in ev.obj.resv.fences(usage):
            other = getattr(fence, "request", None)
            if other is not None and other.ctx is rq.ctx and other.engine is rq.engine:
                continue
            rq.await_fence(fence)         # type: ignore[arg-type]


def _move_to_active(rq: Request, vmas: Sequence[A.EbVma]) -> None:
    """Last object first, as the kernel walks them."""
    for ev in reversed(vmas):
        obj, write = ev.obj, bool(ev.flags & A.EXEC_OBJECT_WRITE)
        ev.vma.move_to_active(rq.fence)
        obj.resv.add_fence(rq.fence, Usage.WRITE if write else Usage.READ)
        # Domains change under the object lock (the locked phase), as in the kernel.
        obj.write_domain, obj.read_domains = (_DOMAIN_RENDER, 0) if write else \
            (0, obj.read_domains)
        obj.read_domains |= _GPU_DOMAINS
        obj.dirty = True
