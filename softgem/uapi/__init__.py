"""softgem.uapi (L4): the kernel's user ABI, named exactly as in the C headers.

``from softgem import uapi`` gives every struct, constant and request number of
``drm.h`` (the part a GEM client uses) and ``i915_drm.h`` under its C name -- leading
underscores included (``uapi.__EXEC_OBJECT_UNKNOWN_FLAGS``) -- plus the ``_IOC`` encoding.
Structs are ctypes ``Structure`` subclasses with the x86-64 layout; pointers inside them are
plain 64-bit user addresses.  ``tests/uapi/test_layout.py`` compiles the headers and compares
every size, offset, constant and request number.

The header mirror itself is :mod:`softgem.abi` (the base layer, so every layer shares one
copy); this package re-exports all of it, with the ioctl table.  ``IOCTL_STRUCTS`` maps each
request number that takes a struct to that struct's type; the ioctl table builds on it.
"""

from __future__ import annotations

from ..abi import DRM_IOCTL_STRUCTS as DRM_IOCTL_STRUCTS
from ..abi import I915_IOCTL_STRUCTS as I915_IOCTL_STRUCTS
from ..abi import IOCTL_STRUCTS as IOCTL_STRUCTS

# The front door re-exports the header modules whole (the one place a star import of another
# package's modules is allowed: tests/test_layers.py).
from ..abi.drm import *  # noqa: F403 - the C names are the API
from ..abi.i915 import *  # noqa: F403
from ..abi.ioc import *  # noqa: F403

# The ioctl table and the open-file object the machine installs for /dev/dri/* (imported last:
# they build on the names above).
from .drmfd import DrmFd as DrmFd
from .table import drm_ioctl as drm_ioctl
from .table import lookup as lookup
