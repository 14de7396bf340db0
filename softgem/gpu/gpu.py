"""The GPU of one device: its GGTT, engines, and the hooks GEM calls (``GpuHooks``).

``attach(dev)`` makes (once) the :class:`Gpu` of a :class:`~softgem.gem.GemDevice` and plugs
it in as ``dev.gpu``; from then on GEM asks it to unbind objects (userptr revalidation,
caching changes, the shrinker), to drop a file's bindings when a handle closes, and to tear
a file's contexts down when the file is released.

Index of vmas: ``_by_obj`` maps an object id to its vmas in every address space, so
unbinding an object does not walk every space.  A vma enters it when
:meth:`AddressSpace.instance` makes it and leaves when it is destroyed (closed and unbound).

Deferred object puts: a bound vma holds an object reference.  Unbinding often runs under the
object lock (GEM calls ``unbind`` with it held), where the final put would free the object
and retake that lock, so unbinds queue the put here and :meth:`Gpu.reap` drops them at points
that hold no lock: closing handles, releasing files, counting bindings, and after retirement
(engines may call it from their thread, outside any fence-signalling section).

Locks: ``lock`` (SpinLock "gpu.index") guards ``_by_obj``, ``_puts`` and ``_spaces``; it is
innermost (taken under ``vm.mutex``, never held across a call out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import trace
from ..errors import EAGAIN, EBUSY, SimBug
from ..sync import Mutex, SpinLock
from .ggtt import Ggtt
from .vma import object_locked

if TYPE_CHECKING:
    from ..gem import DrmFile, GemDevice, GemObject
    from .vm import AddressSpace
    from .vma import GpuVma

__all__ = ["DEFAULT_HANG_TIMEOUT", "Gpu", "GpuStatistics", "attach"]

#: Seconds a batch may run before the engine declares a hang (tests set it small).
DEFAULT_HANG_TIMEOUT = 2.0

_attach_lock = Mutex("gpu.attach")


@dataclass(frozen=True, slots=True)
class GpuStatistics:
    """What the GPU holds and has done (a snapshot)."""

    bindings: int           # bound vmas in every address space (a leak counter)
    engines: int
    submitted: int          # requests, over every engine
    retired: int
    resets: int
    wedged: bool


class Gpu:
    """The device's GPU: address spaces, engines, per-file contexts."""

    def __init__(self, dev: GemDevice) -> None:
        self.dev = dev
        self.phys = dev.phys
        self.platform = dev.platform
        self.lock = SpinLock("gpu.index")
        self._by_obj: dict[int, list[GpuVma]] = {}
        self._puts: list[GemObject] = []
        self._spaces: list[AddressSpace] = []
        self.file_lock = Mutex("gpu.file_priv")
        self._files = 0
        self.engines: dict[tuple[int, int], Any] = {}   # (uabi class, instance) -> Engine
        self.hang_timeout = DEFAULT_HANG_TIMEOUT
        self.wedged = False             # terminally wedged: new contexts get EIO
        self.ggtt = Ggtt(self)
        dev.gpu = self

    def __repr__(self) -> str:
        return f"<Gpu {self.platform.name} engines={len(self.engines)}>"

    # -- address spaces and the vma index ------------------------------------------------
    def add_space(self, vm: AddressSpace) -> None:
        with self.lock:
            self._spaces.append(vm)

    def spaces(self) -> list[AddressSpace]:
        with self.lock:
            return list(self._spaces)

    def next_file_no(self) -> int:
        with self.lock:
            self._files += 1
            return self._files

    def vm_get(self, vm: AddressSpace) -> AddressSpace:
        with self.lock:
            if vm.refs <= 0:
                raise SimBug(f"vm_get of released {vm!r}")
            vm.refs += 1
        return vm

    def vm_put(self, vm: AddressSpace) -> None:
        """Drop a reference; the last one closes the space (its vmas are reaped later)."""
        with self.lock:
            vm.refs -= 1
            last = vm.refs == 0
            if vm.refs < 0:
                raise SimBug(f"vm_put underflow on {vm!r}")
        if last:
            vm.close()

    def vma_created(self, vma: GpuVma) -> None:
        with self.lock:
            self._by_obj.setdefault(vma.obj_id, []).append(vma)

    def vma_destroyed(self, vma: GpuVma) -> None:
        with self.lock:
            vmas = self._by_obj.get(vma.obj_id)
            if vmas is not None and vma in vmas:
                vmas.remove(vma)
                if not vmas:
                    del self._by_obj[vma.obj_id]

    def vmas_of(self, obj: GemObject) -> list[GpuVma]:
        with self.lock:
            return list(self._by_obj.get(obj.id, ()))

    def defer_put(self, obj: GemObject) -> None:
        with self.lock:
            self._puts.append(obj)

    def reap(self, wait: bool = False) -> None:
        """Unbind closed vmas that are idle (waiting for them with ``wait``), forget closed
        address spaces with nothing left, and drop deferred object references.  Call with
        no lock held."""
        for vm in self.spaces():
            vm.release_closed(wait)
        with self.lock:
            self._spaces = [vm for vm in self._spaces
                            if not vm.closed or vm.closed_vmas_count()]
            puts, self._puts = self._puts, []
        for obj in puts:
            obj.put()

    # -- GpuHooks ----------------------------------------------------------------------------
    def unbind_object(self, obj: GemObject, wait: bool) -> None:
        """Unbind ``obj`` everywhere (``i915_gem_object_unbind``); GEM calls it with the
        object lock held.

        Busy vmas are waited for with ``wait``, skipped without.  A vma pinned by a
        submission in flight in another thread stays bound; with ``wait`` that is EAGAIN
        (the kernel's answer for a pinned vma: the ioctl is retried), without it the
        caller sees the pages still pinned (the shrinker skips the object).  Waiting for
        the pin instead could deadlock against that submission needing this object's lock.
        """
        pinned = False
        with object_locked(obj):
            for vma in self.vmas_of(obj):
                try:
                    vma.unbind_obj_locked(wait)
                except EAGAIN:
                    pinned = True
                except EBUSY:
                    continue
        if pinned and wait:
            raise EAGAIN(f"{obj!r} is pinned by a submission in flight")

    def close_object(self, obj: GemObject, file: DrmFile) -> None:
        """A handle of ``file`` closed: close ``obj``'s vmas in that file's address spaces
        (and in the GGTT with the last handle); idle ones are unbound now, busy ones when
        the GPU is done (``i915_gem_close_object``)."""
        from .file_priv import file_spaces

        spaces = file_spaces(file)
        if obj.handle_count <= 1:
            spaces.append(self.ggtt)
        for vm in spaces:
            vma = vm.lookup(obj)
            if vma is not None:
                with vm.mutex:
                    vm.close_vma_locked(vma)
        self.reap()

    def file_release(self, file: DrmFile) -> None:
        """The file is gone: close its contexts and address spaces, letting their GPU work
        finish (or be cancelled by the engines) first."""
        from .file_priv import file_close, file_spaces

        spaces = file_spaces(file)
        file_close(self, file)
        for vm in spaces:
            vm.release_closed(wait=True)
        self.reap()

    def nr_bindings(self) -> int:
        """Bound vmas in every address space (the leak counter)."""
        self.reap()
        return sum(vm.nr_bound() for vm in self.spaces())

    def ggtt_pinned_size(self) -> int:
        """Bytes pinned in the GGTT (GET_APERTURE)."""
        return self.ggtt.pinned_size()

    # -- engines ---------------------------------------------------------------------------
    def resets(self) -> int:
        """Engine resets so far (GET_RESET_STATS' reset_count)."""
        return sum(int(e.resets) for e in list(self.engines.values()))

    def statistics(self) -> GpuStatistics:
        engines = list(self.engines.values())
        return GpuStatistics(
            bindings=self.nr_bindings(), engines=len(engines),
            submitted=sum(int(e.submitted) for e in engines),
            retired=sum(int(e.retired) for e in engines),
            resets=sum(int(e.resets) for e in engines), wedged=self.wedged)

    def register_engine(self, uabi_class: int, instance: int, engine: Any) -> None:
        key = (uabi_class, instance)
        if key in self.engines:
            raise SimBug(f"engine {key} registered twice")
        self.engines[key] = engine
        if trace.enabled:
            trace.emit("gpu", "engine", uabi_class=uabi_class, instance=instance)


def attach(dev: GemDevice) -> Gpu:
    """The GPU of ``dev`` with its engines, made and plugged in on first call
    (idempotent)."""
    from .engine import setup_engines

    with _attach_lock:
        gpu = dev.gpu
        if isinstance(gpu, Gpu):
            return gpu
        if gpu is not None:
            raise SimBug(f"{dev!r} already has a foreign GPU {gpu!r}")
        gpu = Gpu(dev)
        setup_engines(gpu)
        return gpu
