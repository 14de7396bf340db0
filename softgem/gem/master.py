"""The device's DRM master state (``drm_device.master`` and the magic map, under
``master_mutex``).  It lives on the device so that a dropped device takes it along; the rules
that use it (who becomes master, GET_MAGIC/AUTH_MAGIC) are the uAPI's, in
:mod:`softgem.uapi.handlers_auth`, which documents every field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..sync import Mutex

if TYPE_CHECKING:
    from .file import DrmFile

__all__ = ["MasterState"]


class MasterState:
    __slots__ = ("lock", "magic_of", "magics", "master", "unique_set")

    def __init__(self) -> None:
        self.lock = Mutex("drm.master_mutex")
        self.master: DrmFile | None = None
        self.unique_set = False
        self.magics: dict[int, DrmFile | None] = {}
        self.magic_of: dict[DrmFile, int] = {}
