"""softgem.abi (base layer): the kernel's uAPI headers, mirrored once for every layer.

``drm.h`` (the part a GEM client uses), ``i915_drm.h``, ``linux/sync_file.h`` and
``linux/dma-buf.h`` names -- structs, constants, request numbers -- under their C names,
leading underscores included, plus the ``_IOC`` request-number encoding.  Every layer imports
its flags and structs from here (``from ..abi import I915_GEM_DOMAIN_CPU``); the public front
door stays :mod:`softgem.uapi`, which re-exports all of it with the ioctl table.
``tests/uapi/test_layout.py`` compiles the real headers and compares every size, offset,
constant and request number.
"""

from __future__ import annotations

import ctypes

from . import drm, i915, ioc
from .drm import *  # noqa: F403 - the C names are the API
from .drm import DRM_IOCTL_STRUCTS
from .i915 import *  # noqa: F403
from .i915 import I915_IOCTL_STRUCTS
from .ioc import *  # noqa: F403

#: request number -> argument struct, for every DRM_IOCTL_* defined here that takes a struct.
IOCTL_STRUCTS: dict[int, type[ctypes.Structure]] = {**DRM_IOCTL_STRUCTS, **I915_IOCTL_STRUCTS}

__all__ = [*drm.__all__, *i915.__all__, *ioc.__all__, "DRM_IOCTL_STRUCTS",
           "I915_IOCTL_STRUCTS", "IOCTL_STRUCTS"]
