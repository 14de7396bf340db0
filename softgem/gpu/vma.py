"""A binding of an object into one address space (``struct i915_vma``).

One :class:`GpuVma` per (object, address space), made by :meth:`AddressSpace.instance`.
``pin`` binds it if needed (allocating a node, first fit, evicting idle unpinned vmas when
the space is full) and counts a pin; ``unpin`` drops the count; a bound vma stays bound when
unpinned, so the next execbuf finds the object where it was (what NO_RELOC and presumed
offsets rely on) until eviction, ``unbind`` or close.

While bound, a vma keeps the object's pages pinned (``obj.pin_pages_locked``) and holds one
object reference, so neither can go away under the GPU.  Unbinding gives both back; the
reference is dropped later by :meth:`Gpu.reap` (the unbind may run under the object lock,
where a final put would recurse into it).

GPU work using a vma is tracked in ``active`` (:meth:`move_to_active`): unbind and eviction
wait for those fences, never under ``vm.mutex``.  A fence leaves ``active`` in its signal
callback; with ``hold_pin=True`` the vma also keeps one pin until then, so an execbuf can
drop its own pins when the ioctl ends (as the kernel's ``eb_release_vmas``) or hand them to
the request.

State (``node.allocated``/``ptes``/``pin_count``/``active`` change under ``vm.mutex``;
binding and unbinding also hold the object lock, which orders them against the object's
page list)::

    unbound --pin--> bound+pinned --unpin--> bound --evict/unbind--> unbound
                         |  ^                  |
                         move_to_active        closed (handle gone): reaped when idle

Lock order: object lock -> ``vm.mutex``; fences are waited for with the object lock held
and ``vm.mutex`` released.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import trace
from ..errors import EAGAIN, EBUSY, EINVAL, ENOENT, ENOSPC, SimBug
from ..sync import Fence
from ..units import PAGE_SIZE, page_align
from .drm_mm import DrmMMNode

if TYPE_CHECKING:
    from ..gem import GemObject, SgTable
    from .vm import AddressSpace, Ptes

__all__ = [
    "GpuVma", "PIN_GLOBAL", "PIN_HIGH", "PIN_MAPPABLE", "PIN_NOEVICT", "PIN_NONBLOCK",
    "PIN_OFFSET_BIAS", "PIN_OFFSET_FIXED", "PIN_OFFSET_MASK", "PIN_USER", "PIN_ZONE_4G",
    "ZONE_4G_END", "object_locked",
]

# Pin flags (i915_gem_gtt.h); an offset for FIXED/BIAS may ride in the high bits, as there.
PIN_NOEVICT = 1 << 0
PIN_NOSEARCH = 1 << 1
PIN_NONBLOCK = 1 << 2
PIN_MAPPABLE = 1 << 3
PIN_ZONE_4G = 1 << 4
PIN_HIGH = 1 << 5
PIN_OFFSET_BIAS = 1 << 6
PIN_OFFSET_FIXED = 1 << 7
PIN_GLOBAL = 1 << 10
PIN_USER = 1 << 11
PIN_OFFSET_MASK = ~(PAGE_SIZE - 1)

#: The 32-bit zone ends one page short of 4 GiB (the kernel's PIN_ZONE_4G limit).
ZONE_4G_END = (1 << 32) - PAGE_SIZE


class object_locked:
    """Hold ``obj.lock`` for a block unless this thread already does (the GEM callers of
    ``unbind`` hold it; the GPU's own callers do not)."""

    __slots__ = ("_obj", "_taken")

    def __init__(self, obj: GemObject) -> None:
        self._obj = obj
        self._taken = False

    def __enter__(self) -> bool:
        if not self._obj.lock.held_by_me():
            self._obj.lock.lock()
            self._taken = True
        return self._taken

    def __exit__(self, *exc: object) -> None:
        if self._taken:
            self._obj.lock.unlock()


class GpuVma:
    """One object's binding in one address space."""

    __slots__ = ("_held", "active", "closed", "node", "obj", "obj_id", "pages", "pin_count",
                 "ptes", "readonly", "size", "vm")

    def __init__(self, obj: GemObject, vm: AddressSpace, *, readonly: bool) -> None:
        self.obj = obj
        self.obj_id = obj.id
        self.vm = vm
        self.readonly = readonly
        self.size = obj.size
        self.node = DrmMMNode(owner=self)
        self.pages: SgTable | None = None
        self.ptes: Ptes | None = None
        self.pin_count = 0
        self.active: list[Fence] = []
        self._held: list[Fence] = []      # active fences that also hold a pin
        self.closed = False

    def __repr__(self) -> str:
        where = f"@{self.node.start:#x}+{self.node.size:#x}" if self.bound else "unbound"
        return f"<GpuVma obj#{self.obj_id} {self.vm.name} {where} pins={self.pin_count}>"

    @property
    def bound(self) -> bool:
        return self.node.allocated

    @property
    def start(self) -> int:
        """The GPU address of the object (``i915_vma_offset``); only while bound."""
        if not self.node.allocated:
            raise SimBug(f"{self!r}: offset of an unbound vma")
        return self.node.start

    def is_active(self) -> bool:
        return bool(self.active)

    # -- pin / unpin ---------------------------------------------------------------------
    def pin(self, size: int = 0, alignment: int = 0, flags: int = PIN_USER, *,
            offset: int | None = None) -> None:
        """Bind if needed and count a pin (``i915_vma_pin``).

        ``offset`` (or ``flags & PIN_OFFSET_MASK``) is the address for PIN_OFFSET_FIXED and
        the lowest start for PIN_OFFSET_BIAS.  A bound vma that breaks the request is moved
        (unbound, waiting for the GPU unless PIN_NONBLOCK, and bound again).

        Raises: EINVAL (an offset not page aligned; a fixed offset unaligned to
        ``alignment`` or outside the space; a fixed pin of a vma pinned elsewhere), ENOSPC
        (no room even after evicting every idle unpinned vma; a fixed range held by a pinned
        vma; PIN_NONBLOCK and waiting needed), ENOENT (the vma or its space was closed),
        and whatever getting the object's pages raises.
        """
        if offset is None:
            offset = flags & PIN_OFFSET_MASK
        elif offset & ~PIN_OFFSET_MASK:
            raise EINVAL(f"pin offset {offset:#x} is not page aligned")
        need = page_align(max(size, self.size))
        with object_locked(self.obj):
            self._pin_obj_locked(need, alignment, flags, offset)

    def _pin_obj_locked(self, need: int, alignment: int, flags: int, offset: int) -> None:
        from .evict import Blocked

        vm = self.vm
        while True:
            with vm.mutex:
                self._check_open()
                misplaced = self.bound and self._misplaced(need, alignment, flags, offset)
                if self.bound and not misplaced:
                    self.pin_count += 1
                    vm.touch_locked(self)
                    return
                if misplaced and self.pin_count:
                    raise (EINVAL if flags & PIN_OFFSET_FIXED else ENOSPC)(
                        f"{self!r} is pinned elsewhere")
                if misplaced and self.active and flags & PIN_NONBLOCK:
                    raise ENOSPC(f"{self!r} is busy elsewhere and the pin may not wait")
            if misplaced:
                self.unbind_obj_locked(wait=not flags & PIN_NONBLOCK)
                continue
            try:
                self._bind(need, alignment, flags, offset)
                return
            except Blocked as b:
                if flags & PIN_NONBLOCK:
                    raise ENOSPC("eviction would have to wait for the GPU") from None
                b.fence.wait()

    def _bind(self, need: int, alignment: int, flags: int, offset: int) -> None:
        """Pin the pages, find a node (evicting), write the PTEs, count the pin."""
        from .evict import insert_node

        obj, vm = self.obj, self.vm
        pages = obj.pin_pages_locked()
        installed = False
        try:
            with vm.mutex:
                self._check_open()
                if not self.bound:
                    insert_node(vm, self.node, need, alignment, flags, offset)
                    self.pages = pages
                    vm.bind(self)
                    obj.get()
                    installed = True
                self.pin_count += 1
                vm.touch_locked(self)
        finally:
            if not installed:   # failed, or another thread bound this vma meanwhile
                obj.unpin_pages_locked()

    def _check_open(self) -> None:
        if self.closed:
            raise ENOENT(f"{self!r} was closed")

    def _misplaced(self, need: int, alignment: int, flags: int, offset: int) -> bool:
        """Whether the current node breaks the request (``i915_vma_misplaced``)."""
        node = self.node
        if node.size < need or (alignment > 1 and node.start % alignment):
            return True
        if flags & PIN_OFFSET_FIXED and node.start != offset:
            return True
        if flags & PIN_OFFSET_BIAS and node.start < offset:
            return True
        if flags & PIN_ZONE_4G and node.end > ZONE_4G_END:
            return True
        mappable = getattr(self.vm, "mappable_end", None)
        return bool(flags & PIN_MAPPABLE and mappable is not None and node.end > mappable)

    def unpin(self) -> None:
        with self.vm.mutex:
            if self.pin_count <= 0:
                raise SimBug(f"{self!r}: unpin of an unpinned vma")
            self.pin_count -= 1

    # -- activity ------------------------------------------------------------------------
    def move_to_active(self, fence: Fence, *, hold_pin: bool = False) -> None:
        """GPU work behind ``fence`` uses this vma (``i915_vma_move_to_active``).

        With ``hold_pin`` the vma gains a pin that the fence's signal gives back.
        """
        with self.vm.mutex:
            if not self.bound:
                raise SimBug(f"{self!r}: move_to_active while unbound")
            self.active.append(fence)
            if hold_pin:
                self.pin_count += 1
                self._held.append(fence)
            self.vm.touch_locked(self)
        if not fence.add_callback(self._retire):
            self._retire(fence)

    def _retire(self, fence: Fence) -> None:
        """Fence signal callback: forget the fence and the pin it held; wake unbinders."""
        vm = self.vm
        with vm.mutex:
            if fence in self.active:
                self.active.remove(fence)
            if fence in self._held:
                self._held.remove(fence)
                self.pin_count -= 1
        vm.retire_wq.wake_up_all()
        if trace.enabled:
            trace.emit("gpu", "vma_retire", vm=vm.name, obj=self.obj_id, fence=fence.name)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no fence of ``active`` is left (their callbacks included)."""
        for fence in list(self.active):
            if not fence.wait(timeout):
                return False
        return self.vm.retire_wq.wait_event(lambda: not self.active, timeout)

    # -- unbind --------------------------------------------------------------------------
    def unbind(self, wait: bool = True) -> None:
        """Unbind (``i915_vma_unbind``): wait for the GPU if ``wait``, then drop the node,
        the PTEs, the page pin and (via reap) the object reference.

        Raises: EAGAIN if pinned; EBUSY if still active and not ``wait``.
        """
        with object_locked(self.obj) as took:
            self.unbind_obj_locked(wait)
        if took:
            self.vm.gpu.reap()

    def unbind_obj_locked(self, wait: bool) -> None:
        """:meth:`unbind` for a caller holding the object lock."""
        if wait:
            self.wait_idle()
        with self.vm.mutex:
            if not self.bound:
                return
            if self.pin_count:
                raise EAGAIN(f"{self!r} is pinned")
            if self.active:
                raise EBUSY(f"{self!r} is in use by the GPU")
            self.unbind_locked()

    def unbind_locked(self) -> None:
        """Tear the binding down; caller holds the object lock and ``vm.mutex`` and has
        checked the vma is idle and unpinned."""
        if self.pin_count or self.active:
            raise SimBug(f"{self!r}: unbind while pinned or active")
        vm, obj = self.vm, self.obj
        vm.unbind(self)
        vm.mm.remove(self.node)
        self.pages = None
        obj.unpin_pages_locked()
        if self.closed:
            vm.destroy_closed_locked(self)
        vm.gpu.defer_put(obj)
