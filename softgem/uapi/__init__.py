"""softgem.uapi (L4): the kernel's user ABI, named exactly as in the C headers.

``from softgem import uapi`` gives every struct, constant and request number of
``drm.h`` (the part a GEM client uses) and ``i915_drm.h`` under its C name -- leading
underscores included (``uapi.__EXEC_OBJECT_UNKNOWN_FLAGS``) -- plus the ``_IOC`` encoding.
Structs are ctypes ``Structure`` subclasses with the x86-64 layout; pointers inside them are
plain 64-bit user addresses.  ``tests/uapi/test_layout.py`` compiles the headers and compares
every size, offset, constant and request number.

``IOCTL_STRUCTS`` maps each request number that takes a struct to that struct's type; the
ioctl table builds on it.
"""

from __future__ import annotations

import ctypes

from .drm import *  # noqa: F403 - the C names are the API
from .drm import DRM_IOCTL_STRUCTS
from .i915 import *  # noqa: F403
from .i915 import I915_IOCTL_STRUCTS
from .ioc import *  # noqa: F403

#: request number -> argument struct, for every DRM_IOCTL_* defined here that takes a struct.
IOCTL_STRUCTS: dict[int, type[ctypes.Structure]] = {**DRM_IOCTL_STRUCTS, **I915_IOCTL_STRUCTS}

# The ioctl table and the open-file object the machine installs for /dev/dri/* (imported last:
# they build on the names above).
from .drmfd import DrmFd as DrmFd  # noqa: E402
from .table import drm_ioctl as drm_ioctl  # noqa: E402
from .table import lookup as lookup  # noqa: E402
