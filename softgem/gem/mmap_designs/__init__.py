"""The mmap_offset designs: how the driver keeps an object's mmap offsets, behind one seam.

A device holds one :class:`MmapDesign` (``dev.mmap_design``); :mod:`softgem.gem.mman` (the
MMAP_OFFSET ioctl, ``f_op->mmap``, the VMAs' open/close, GEM_CLOSE, the object's free, the
zaps) and :mod:`softgem.gem.aperture` (which user ranges a GTT revocation zaps) call only the
operations below and never branch on a design's name.  ``obj.mmo`` is the design's own
per-object bookkeeping (:meth:`MmapDesign.init_object`).

=========  ==========================================================================================
name       what differs (docs/history-mmap.md has the kernel references)
=========  ==========================================================================================
merged     the default, i915 since v5.5 (``DRM_I915_GEM_MMAP_OFFSET``): one offset per (object,
           type), created once and kept until the object is freed; the calling file is added
           to its allow list and GEM_CLOSE takes it off; ``i915_gem_mmap`` checks the allow list
           and takes the object reference under the offset manager's lock; a VMA holds only an
           object reference; a GTT fault records its offset in the GGTT vma (``vma->mmo``), so
           a revocation zaps that one range and walks no list
mmap-v1    the 2019 series as first posted ("[1/5] drm/i915: Allow i915 to manage the vma
           offset nodes instead of drm core"): a new refcounted offset per call and per file,
           on a per-object list under a per-object mutex; GEM_CLOSE puts the file's offsets;
           ``i915_gem_mmap`` takes the object reference under the lookup lock but checks the
           allow list and takes the offset's reference after dropping it; a revocation (the
           reset's ``revoke_mmaps``, ``i915_vma_revoke_mmap``) walks the list without the mutex
=========  ==========================================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ...mm import Vma
    from ..device import GemDevice
    from ..file import DrmFile
    from ..mman import MmapOffset
    from ..object import GemObject
    from ..offsets import OffsetNode

__all__ = ["DEFAULT_MMAP_DESIGN", "MmapDesign", "make_mmap_design", "mmap_design_names",
           "register"]

DEFAULT_MMAP_DESIGN = "merged"


@runtime_checkable
class MmapDesign(Protocol):
    """What the core asks of an mmap_offset design."""

    name: str

    def init_object(self) -> Any:
        """A new object's mmap offset bookkeeping (``obj.mmo``)."""

    def attach(self, obj: GemObject, mmap_type: int, file: DrmFile | None) -> MmapOffset:
        """``mmap_offset_attach``: the offset to hand out for ``mmap_type``, open to ``file``;
        caller holds ``obj.lock``.  Raises: ENOSPC (offset space exhausted)."""

    def lookup(self, dev: GemDevice, file: DrmFile, pgoff: int,
               npages: int) -> tuple[GemObject, MmapOffset]:
        """``i915_gem_mmap``'s lookup: the offset at ``pgoff`` open to ``file`` and a new
        reference to its object.  Raises: EINVAL (no such offset), EACCES."""

    def mmap_attached(self, vma: Vma, mmo: MmapOffset) -> None:
        """``vma`` now maps ``mmo`` (the end of ``i915_gem_mmap``)."""

    def vm_open(self, vma: Vma) -> None:
        """A new VMA maps the same offset (fork, split): the references it holds."""

    def vm_close(self, vma: Vma) -> None:
        """A VMA mapping an offset goes away: drop what :meth:`vm_open` took."""

    def close_object(self, obj: GemObject, file: DrmFile) -> None:
        """GEM_CLOSE of a handle of ``file`` to ``obj``."""

    def free_object(self, obj: GemObject) -> None:
        """``obj`` is being freed (views already unbound): remove every offset it owns."""

    def offsets(self, obj: GemObject) -> list[MmapOffset]:
        """Every offset of ``obj`` now, taken under the design's lock."""

    def zap(self, obj: GemObject) -> None:
        """Zap every user mapping of every offset of ``obj`` (its pages are being put)."""

    def revoke_nodes(self, obj: GemObject, node: OffsetNode | None) -> Iterable[OffsetNode]:
        """The GTT offsets whose user ranges a revocation of one of ``obj``'s GGTT views
        zaps (``i915_vma_revoke_mmap``, the reset's ``revoke_mmaps``); ``node`` is the one
        its last fault went through.  Called with the aperture lock held."""


_FACTORIES: dict[str, Callable[[], MmapDesign]] = {}


def register(name: str, factory: Callable[[], MmapDesign]) -> None:
    if name in _FACTORIES:
        raise ValueError(f"mmap design {name!r} registered twice")
    _FACTORIES[name] = factory


def _load() -> None:
    from . import merged, v1  # noqa: F401  (they register, once each)


def mmap_design_names() -> list[str]:
    _load()
    return sorted(_FACTORIES)


def make_mmap_design(name: str = DEFAULT_MMAP_DESIGN) -> MmapDesign:
    """A fresh design (per device); ValueError names the known ones."""
    _load()
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ValueError(f"unknown mmap design {name!r}; known: {', '.join(mmap_design_names())}")
    return factory()
