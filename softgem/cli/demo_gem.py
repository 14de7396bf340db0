"""The GEM scenes of ``softgem demo``: userptr through the real ioctls, and mmap_offset."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import igt, uapi
from ..posix import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE

if TYPE_CHECKING:
    from ..machine import Machine
    from .demo import Narrator

__all__ = ["GEM_SCENES"]

SZ = 64 << 10
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
CPU = uapi.I915_GEM_DOMAIN_CPU


def _set_domain(n: Narrator, proc: object, fd: int, handle: int) -> int:
    err = igt.__gem_set_domain(proc, fd, handle, CPU, 0)  # type: ignore[arg-type]
    name = errno.errorcode.get(-err, str(err)) if err else "0 (valid)"
    n.say(f"SET_DOMAIN(CPU) on the userptr -> {name}")
    return err


def _userptr_scenes(n: Narrator, machine: Machine) -> None:
    proc = machine.spawn("app")
    fd = igt.drm_open_driver(proc)
    n.scene("6. A process wraps its own buffer in a userptr",
            "GEM_USERPTR over 64 KiB of its heap: creation pins nothing; SET_DOMAIN validates "
            "(pins every page, as iris does to check a userptr).")
    buf = proc.mmap(0, SZ, RW, ANON)
    proc.write(buf, b"pixels" * 100)
    handle = igt.gem_userptr(proc, fd, buf, SZ)
    n.say(f"handle {handle}; pinned pages now: {machine.phys.nr_pinned()}")
    _set_domain(n, proc, fd, handle)
    n.say(f"pinned pages now: {machine.phys.nr_pinned()}")

    n.scene("7. The memory behind it changes",
            "munmap of one page: the notifier records a new sequence but never unpins; the next "
            "validation drops the stale pages and fails to pin the hole: EFAULT.")
    proc.munmap(buf + 4096, 4096)
    n.say(f"pinned pages still: {machine.phys.nr_pinned()} (GPU work in flight stays safe)")
    _set_domain(n, proc, fd, handle)
    n.say(f"pinned pages now: {machine.phys.nr_pinned()}")

    n.scene("8. MAP_FIXED puts memory back",
            "mmap(MAP_FIXED) over the hole (itself an UNMAP of that range), then validation "
            "pins the new page.")
    proc.mmap(buf + 4096, 4096, RW, ANON | MAP_FIXED)
    _set_domain(n, proc, fd, handle)

    n.scene("9. A forked child uses the parent's handle",
            "The child shares the drm file, so the handle resolves, but the userptr belongs to "
            "the parent's address space: EFAULT.")
    child = proc.fork()
    _set_domain(n, child, fd, handle)
    child.exit()
    igt.gem_close(proc, fd, handle)
    proc.exit()


def _mmap_offset_scene(n: Narrator, machine: Machine) -> None:
    proc = machine.spawn("viewer")
    fd = igt.drm_open_driver(proc)
    n.scene("10. One GEM object, two CPU mappings",
            "GEM_CREATE, then MMAP_OFFSET for WB and for GTT: one offset node per type, two "
            "mappings of the same pages. A write through one is read through the other.")
    handle = igt.gem_create(proc, fd, SZ)
    wb = igt.gem_mmap__wb(proc, fd, handle, SZ)
    gtt = igt.gem_mmap__gtt(proc, fd, handle, SZ)
    proc.write(wb + 10, b"written through WB")
    n.say(f"read through GTT: {proc.read(gtt + 10, 18)!r}")
    n.scene("11. A userptr over a GEM mapping",
            "GEM mmaps are VM_PFNMAP|VM_IO: creating a userptr there succeeds (creation touches "
            "nothing), pinning it fails.")
    up = igt.gem_userptr(proc, fd, wb, SZ)
    _set_domain(n, proc, fd, up)
    igt.gem_close(proc, fd, handle)
    n.say(f"after GEM_CLOSE the WB mapping still works: {proc.read(wb + 10, 7)!r}")
    proc.exit()


GEM_SCENES: list[Callable[[Narrator, Machine], None]] = [_userptr_scenes, _mmap_offset_scene]
