"""Cache domains and caching modes: SET_DOMAIN, SW_FINISH, SET_CACHING, GET_CACHING.

An object's ``read_domains`` / ``write_domain`` record which agent's caches may hold its data
(CPU, GTT = through the aperture, WC = write-combined CPU mappings, and the GPU domains).  The
invariant, kept by every transition below: a write domain, when set, is the only read domain.
Moving to a domain first waits for the GPU work that conflicts (writers; all work when writing),
then flushes the old write domain, then records the new one; the object is marked dirty when
written.  This model has no CPU cache to flush, so "flush" is only bookkeeping.

Proxy objects (userptr) have no domain of their own: SET_DOMAIN on a userptr is the validity
probe of semantics.md section 5 (pin and unpin its pages, EFAULT if the range is bad) and
records nothing; their caching is fixed to CACHED (setting CACHED is a silent no-op for the
Vulkan drivers that set it on everything, any other valid mode is ENXIO).

Lock order: the object lock is taken after the caller's mmap_lock and released before any
user copy; userptr validation runs without it (it pins user pages).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..abi import (  # the uAPI header's names
    I915_CACHING_DISPLAY,
    I915_GEM_DOMAIN_COMMAND,
    I915_GEM_DOMAIN_CPU,
    I915_GEM_DOMAIN_GTT,
    I915_GEM_DOMAIN_INSTRUCTION,
    I915_GEM_DOMAIN_RENDER,
    I915_GEM_DOMAIN_SAMPLER,
    I915_GEM_DOMAIN_VERTEX,
    I915_GEM_DOMAIN_WC,
)
from ..errors import EINVAL, ENODEV, ENXIO, EOPNOTSUPP
from .create import pat_set_by_user
from .object import CACHING_CACHED, CACHING_NONE
from .ops import ObjectFlags
from .userptr import is_userptr, validate
from .wait import object_wait

if TYPE_CHECKING:
    from ..mm import UserMm
    from .device import GemDevice
    from .file import DrmFile
    from .object import GemObject

__all__ = [
    "I915_GEM_DOMAIN_CPU", "I915_GEM_DOMAIN_RENDER", "I915_GEM_DOMAIN_SAMPLER",
    "I915_GEM_DOMAIN_COMMAND", "I915_GEM_DOMAIN_INSTRUCTION", "I915_GEM_DOMAIN_VERTEX",
    "I915_GEM_DOMAIN_GTT", "I915_GEM_DOMAIN_WC", "I915_GEM_GPU_DOMAINS",
    "I915_CACHING_NONE", "I915_CACHING_CACHED", "I915_CACHING_DISPLAY",
    "set_domain", "sw_finish", "set_caching", "get_caching",
    "set_to_cpu_domain", "set_to_gtt_domain", "set_to_wc_domain",
    "prepare_read", "prepare_write",
]

I915_GEM_GPU_DOMAINS = (I915_GEM_DOMAIN_RENDER | I915_GEM_DOMAIN_SAMPLER |
                        I915_GEM_DOMAIN_COMMAND | I915_GEM_DOMAIN_INSTRUCTION |
                        I915_GEM_DOMAIN_VERTEX)

I915_CACHING_NONE = CACHING_NONE
I915_CACHING_CACHED = CACHING_CACHED


# -- domain transitions (caller holds obj.lock) ----------------------------------------------------
def _flush_write_domain(obj: GemObject, flush_domains: int) -> None:
    """Leave the current write domain if it is one of ``flush_domains``."""
    if obj.write_domain & flush_domains:
        obj.write_domain = 0


def _set_to_aperture_domain(obj: GemObject, domain: int, write: bool) -> None:
    object_wait(obj, all_fences=write)
    if obj.write_domain == domain:
        return
    obj.pin_pages_locked()   # the pages must exist for the domain to mean anything
    try:
        _flush_write_domain(obj, ~domain)
        obj.read_domains |= domain
        if write:
            obj.read_domains = obj.write_domain = domain
            obj.dirty = True
    finally:
        obj.unpin_pages_locked()


def set_to_wc_domain(obj: GemObject, write: bool) -> None:
    """Move ``obj`` to the WC domain (``i915_gem_object_set_to_wc_domain``)."""
    _set_to_aperture_domain(obj, I915_GEM_DOMAIN_WC, write)


def set_to_gtt_domain(obj: GemObject, write: bool) -> None:
    """Move ``obj`` to the GTT domain (``i915_gem_object_set_to_gtt_domain``)."""
    _set_to_aperture_domain(obj, I915_GEM_DOMAIN_GTT, write)


def set_to_cpu_domain(obj: GemObject, write: bool) -> None:
    """Move ``obj`` to the CPU domain (``i915_gem_object_set_to_cpu_domain``)."""
    object_wait(obj, all_fences=write)
    _flush_write_domain(obj, ~I915_GEM_DOMAIN_CPU)
    obj.read_domains |= I915_GEM_DOMAIN_CPU
    if write:
        obj.read_domains = obj.write_domain = I915_GEM_DOMAIN_CPU


def prepare_read(obj: GemObject) -> None:
    """Pin the pages and make them CPU-readable; returns with the pages pinned (obj.lock held).

    Raises ENODEV for an object without struct pages, or what get_pages raises.
    """
    if not obj.flags & ObjectFlags.HAS_STRUCT_PAGE:
        raise ENODEV(f"{obj!r} has no struct pages")
    object_wait(obj, all_fences=False)
    obj.pin_pages_locked()
    try:
        set_to_cpu_domain(obj, False)
    except BaseException:
        obj.unpin_pages_locked()
        raise


def prepare_write(obj: GemObject) -> None:
    """Pin the pages and make them CPU-writable; returns with the pages pinned (obj.lock held)."""
    if not obj.flags & ObjectFlags.HAS_STRUCT_PAGE:
        raise ENODEV(f"{obj!r} has no struct pages")
    object_wait(obj, all_fences=True)
    obj.pin_pages_locked()
    try:
        set_to_cpu_domain(obj, True)
    except BaseException:
        obj.unpin_pages_locked()
        raise
    obj.dirty = True


# -- SET_DOMAIN / SW_FINISH --------------------------------------------------------------------------
def set_domain(dev: GemDevice, file: DrmFile, mm: UserMm, handle: int, read_domains: int,
               write_domain: int) -> None:
    """I915_GEM_SET_DOMAIN: prepare the object for CPU access through ``read_domains``.

    Raises, in order: ENODEV on a discrete part; EINVAL for a GPU domain, or a write domain
    that is not the only read domain; (nothing at all if ``read_domains`` is 0); ENOENT; for a
    userptr, what its validation raises (EFAULT, EAGAIN); ENXIO for other proxies; what
    get_pages raises (EFAULT for a purgeable object, ENOMEM).
    """
    if dev.platform.is_dgfx:
        raise ENODEV("no cache domains on discrete parts")
    if (write_domain | read_domains) & I915_GEM_GPU_DOMAINS:
        raise EINVAL(f"GPU domain in {read_domains:#x}/{write_domain:#x}")
    if write_domain and read_domains != write_domain:
        raise EINVAL(f"write domain {write_domain:#x} is not the only read domain")
    if not read_domains:
        return
    obj = file.lookup(handle)
    try:
        object_wait(obj, all_fences=bool(write_domain))
        if is_userptr(obj):
            validate(obj, mm)
            object_wait(obj, all_fences=bool(write_domain))
            return
        if obj.flags & ObjectFlags.IS_PROXY:
            raise ENXIO(f"{obj!r} is a proxy: no cache domain")
        with obj.lock:
            _set_domain_locked(obj, read_domains, write_domain)
    finally:
        obj.put()


def _set_domain_locked(obj: GemObject, read_domains: int, write_domain: int) -> None:
    obj.pin_pages_locked()
    try:
        # Already in that write domain (so it is the only read domain): nothing to do.
        if obj.write_domain == read_domains:
            return
        write = bool(write_domain)
        if read_domains & I915_GEM_DOMAIN_WC:
            set_to_wc_domain(obj, write)
        elif read_domains & I915_GEM_DOMAIN_GTT:
            set_to_gtt_domain(obj, write)
        else:
            set_to_cpu_domain(obj, write)
    finally:
        obj.unpin_pages_locked()


def sw_finish(dev: GemDevice, file: DrmFile, handle: int) -> None:
    """I915_GEM_SW_FINISH: ENOENT for a bad handle, otherwise nothing (no scanout here)."""
    file.lookup(handle).put()


# -- caching ---------------------------------------------------------------------------------------
def _level(dev: GemDevice, caching: int) -> int:
    """The cache level a SET_CACHING mode means on this platform (EINVAL/ENODEV ladder)."""
    plat = dev.platform
    if caching == I915_CACHING_NONE:
        return CACHING_NONE
    if caching == I915_CACHING_CACHED:
        if not plat.has_llc and not plat.has_snoop:
            raise ENODEV("no coherent caching without LLC or snooping")
        return CACHING_CACHED
    if caching == I915_CACHING_DISPLAY:
        # Write-through exists only with eDRAM (HAS_WT); gen9 GT2 has none: uncached.
        return I915_CACHING_DISPLAY if plat.has_wt else CACHING_NONE
    raise EINVAL(f"caching mode {caching}")


def set_caching(dev: GemDevice, file: DrmFile, handle: int, caching: int) -> None:
    """I915_GEM_SET_CACHING.

    Raises, in order: ENODEV on a discrete part; EINVAL for an unknown mode (ENODEV for CACHED
    without LLC or snooping); ENOENT; EOPNOTSUPP for an object whose PAT index userspace chose;
    ENXIO for a proxy object, except CACHED on a userptr (a silent no-op).
    """
    plat = dev.platform
    if plat.is_dgfx:
        raise ENODEV("no SET_CACHING on discrete parts")
    level = _level(dev, caching)
    obj = file.lookup(handle)
    try:
        if pat_set_by_user(obj):
            raise EOPNOTSUPP(f"{obj!r}: PAT index set by userspace")
        if obj.flags & ObjectFlags.IS_PROXY:
            if not is_userptr(obj) or caching != I915_CACHING_CACHED:
                raise ENXIO(f"{obj!r} is a proxy: caching is its generator's")
            return
        with obj.lock:
            _set_cache_level(obj, level)
    finally:
        obj.put()


def _set_cache_level(obj: GemObject, level: int) -> None:
    """``i915_gem_object_set_cache_level``: rebinding applies the new level."""
    if obj.cache_level == level:
        return
    object_wait(obj, all_fences=True)
    obj.cache_level = level
    obj.unbind(wait=True)


def get_caching(dev: GemDevice, file: DrmFile, handle: int) -> int:
    """I915_GEM_GET_CACHING: NONE, CACHED or DISPLAY.

    Raises ENODEV on a discrete part, ENOENT for a bad handle, EOPNOTSUPP for an object whose
    PAT index userspace chose.
    """
    if dev.platform.is_dgfx:
        raise ENODEV("no GET_CACHING on discrete parts")
    obj = file.lookup(handle)
    try:
        if pat_set_by_user(obj):
            raise EOPNOTSUPP(f"{obj!r}: PAT index set by userspace")
        level = obj.cache_level
    finally:
        obj.put()
    if level in (CACHING_CACHED, I915_CACHING_DISPLAY):
        return level
    return I915_CACHING_NONE
