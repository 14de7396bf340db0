"""DRM master and magic authentication (``drm_auth.c``): who may run DRM_MASTER ioctls.

The model, chosen to match a machine where every process is root:

* the first file opened on the primary node (``card0``) while the device has no master
  becomes master (``drm_master_open``); render-node files never take part;
* releasing the master file leaves the device without a master; the next primary open takes
  it, and a root process may take it explicitly with SET_MASTER while nobody holds it;
* every file is authenticated from the start (``drm_file_alloc`` sets
  ``authenticated = capable(CAP_SYS_ADMIN)``), so GET_MAGIC / AUTH_MAGIC only keep the
  magic-number bookkeeping libdrm relies on (unknown or spent magic -> EINVAL).

Simplification: the kernel keeps one magic map per ``drm_master`` and re-creates masters on
SET_MASTER; softgem keeps one map per device, which is indistinguishable while there are no
leases (KMS leases are not modelled: the device is display-less, see :mod:`.handlers_core`).

State (one :class:`MasterState` per device, all fields under ``lock`` = dev->master_mutex):

==========  ===================================================================
field       meaning
==========  ===================================================================
master      the DrmFile that is the current master, or None
unique_set  SET_VERSION >= 1.1 ran, so GET_UNIQUE reports the bus id
magics      magic -> DrmFile still waiting for AUTH_MAGIC, or None once spent
magic_of    DrmFile -> its magic (0 = none yet)
==========  ===================================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import EBUSY, EINVAL
from ..gem import MasterState

if TYPE_CHECKING:
    from ..abi import drm_auth
    from ..gem import DrmFile, GemDevice
    from .context import IoctlContext

__all__ = [
    "MasterState",
    "auth_magic",
    "drop_master",
    "get_magic",
    "is_current_master",
    "master_open",
    "master_release",
    "master_state",
    "set_master",
]


def master_state(dev: GemDevice) -> MasterState:
    return dev.master_state


def master_open(file: DrmFile) -> None:
    """A new open of the device: a primary-node file becomes master if there is none."""
    if file.is_render:
        return
    st = master_state(file.dev)
    with st.lock:
        if st.master is None:
            st.master = file


def master_release(file: DrmFile) -> None:
    """The file is going away: drop its magic and, if it is the master, the mastership."""
    st = master_state(file.dev)
    with st.lock:
        magic = st.magic_of.pop(file, 0)
        if magic:
            del st.magics[magic]
        if st.master is file:
            st.master = None
            st.unique_set = False


def is_current_master(file: DrmFile) -> bool:
    st = master_state(file.dev)
    with st.lock:
        return st.master is file


def get_magic(ctx: IoctlContext, auth: drm_auth) -> int:
    """GET_MAGIC: this file's magic number, allocated lowest-free from 1 on first use."""
    st = master_state(ctx.dev)
    with st.lock:
        magic = st.magic_of.get(ctx.file, 0)
        if not magic:
            magic = 1
            while magic in st.magics:
                magic += 1
            st.magics[magic] = ctx.file
            st.magic_of[ctx.file] = magic
        auth.magic = magic
    return 0


def auth_magic(ctx: IoctlContext, auth: drm_auth) -> int:
    """AUTH_MAGIC (master only): authenticate the file holding ``magic``; spent afterwards."""
    st = master_state(ctx.dev)
    with st.lock:
        if st.magics.get(auth.magic) is None:
            raise EINVAL(f"magic {auth.magic} is unknown or already used")
        st.magics[auth.magic] = None  # the file is authenticated (it already was: root)
    return 0


def set_master(ctx: IoctlContext, data: Any) -> int:
    """SET_MASTER: a no-op for the master; EBUSY while another file is master."""
    st = master_state(ctx.dev)
    with st.lock:
        if st.master is ctx.file:
            return 0
        if st.master is not None:
            raise EBUSY("the device already has a master")
        st.master = ctx.file
    return 0


def drop_master(ctx: IoctlContext, data: Any) -> int:
    """DROP_MASTER: EINVAL unless the caller is the current master."""
    st = master_state(ctx.dev)
    with st.lock:
        if st.master is not ctx.file:
            raise EINVAL("not the current master")
        st.master = None
    return 0
