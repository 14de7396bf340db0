"""GEM contexts (``struct i915_gem_context``) and their parameters.

A context is what an execbuf names in ``rsvd1``: an address space (its own full 48-bit PPGTT
unless VM_CREATE's space was given to it), scheduling and hang-policy flags, and the hang
record the engines update.  Contexts belong to one file (:mod:`softgem.gpu.file_priv`).

Proto-contexts (gen <= 12, since 5.15): CONTEXT_CREATE only records the parameters; the
context is *finalized* -- its PPGTT made, its VM and engines fixed -- on first lookup
(execbuf, GETPARAM, RESET_STATS).  Until then SETPARAM may still set VM, ENGINES and
PROTECTED_CONTENT; afterwards those answer EINVAL.  The default context 0 is final at once.

Parameter ladders follow ``set_proto_ctx_param`` / ``ctx_setparam`` / getparam of
``i915_gem_context.c`` on a gen9 part with execlists: priorities and preemption are there,
per-engine reset is there, SSEU is gen11-only (ENODEV), there is no PXP (ENODEV for
protected content) and no GuC (LOW_LATENCY is EINVAL).

Hang policy (``context_mark_guilty`` in gt/intel_reset.c): each hang counts; a bannable
context is banned when it is not recoverable or after :data:`BAN_AFTER_HANGS` hangs (the
kernel bans on the third hang within 120 s; no wall clock is read here), and a banned
context costs its file :data:`I915_CLIENT_SCORE_CONTEXT_BAN` ban points -- a file at
:data:`I915_CLIENT_SCORE_BANNED` may not create contexts (EIO).

Locking: ``Context.lock`` (Mutex "gpu.context") guards the flags; the file's registry lock
is taken before it.  Readers of single flags (the engines) read without it.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Protocol

from .. import trace
from ..errors import EFAULT, EINVAL, ENODEV, ENOENT, EPERM
from ..sync import Mutex

if TYPE_CHECKING:
    from ..gem import DrmFile
    from .file_priv import GpuFile
    from .gpu import Gpu
    from .vm import AddressSpace

__all__ = [
    "BAN_AFTER_HANGS", "Context", "I915_CLIENT_SCORE_BANNED", "I915_CLIENT_SCORE_CONTEXT_BAN",
    "SSEU_SIZE", "UserMemory",
]

# drm_i915_gem_context_param.param (i915_drm.h)
P_BAN_PERIOD, P_NO_ZEROMAP, P_GTT_SIZE, P_NO_ERROR_CAPTURE = 0x1, 0x2, 0x3, 0x4
P_BANNABLE, P_PRIORITY, P_SSEU, P_RECOVERABLE, P_VM = 0x5, 0x6, 0x7, 0x8, 0x9
P_ENGINES, P_PERSISTENCE, P_RINGSIZE, P_PROTECTED = 0xA, 0xB, 0xC, 0xD
P_LOW_LATENCY, P_CONTEXT_IMAGE = 0xE, 0xF

MAX_USER_PRIORITY, MIN_USER_PRIORITY, DEFAULT_PRIORITY = 1023, -1023, 0
SSEU_FLAG_ENGINE_INDEX = 1 << 0
#: sizeof(struct drm_i915_gem_context_param_sseu)
SSEU_SIZE = 32
_SSEU = struct.Struct("<HHIQQHHI")    # engine class/instance, flags, masks, EUs, rsvd
_ENGINES_HEADER = 8                   # i915_context_param_engines.extensions
_ENGINE_CI = struct.Struct("<HH")
_CLASS_INVALID, _INSTANCE_NONE = 0xFFFF, 0xFFFF
_EXEC_RING_MASK = 0x3F

BAN_AFTER_HANGS = 3
I915_CLIENT_SCORE_HANG_FAST = 1
I915_CLIENT_SCORE_CONTEXT_BAN = 3
I915_CLIENT_SCORE_BANNED = 9

_U64 = (1 << 64) - 1


class UserMemory(Protocol):
    """What parameter code needs of the caller's address space (``UserMm`` has both)."""

    def copy_from_user(self, addr: int, n: int) -> bytes: ...

    def copy_to_user(self, addr: int, data: bytes) -> None: ...


def _signed64(value: int) -> int:
    value &= _U64
    return value - (1 << 64) if value >> 63 else value


class Context:
    """One GEM context of one file."""

    __slots__ = ("bannable", "banned", "closed", "file", "finalized", "fpriv", "gpu", "guilty_count",
                 "hangs", "id", "lock", "no_error_capture", "persistent", "priority",
                 "recoverable", "single_timeline", "user_engines", "vm")

    def __init__(self, gpu: Gpu, file: DrmFile, *, vm: AddressSpace | None,
                 single_timeline: bool = False, fpriv: GpuFile | None = None) -> None:
        self.gpu = gpu
        self.file = file
        self.fpriv: GpuFile = fpriv if fpriv is not None else file.driver_priv
        self.id = -1
        self.lock = Mutex("gpu.context")
        self.vm = vm                        # None until finalized when no VM was given
        self.finalized = False
        self.priority = DEFAULT_PRIORITY
        self.bannable = True
        self.recoverable = True
        self.no_error_capture = False
        self.persistent = True              # enable_hangcheck is on
        self.single_timeline = single_timeline
        self.user_engines: list[tuple[int, int] | None] | None = None
        self.hangs = 0
        self.guilty_count = 0
        self.banned = False
        self.closed = False

    def __repr__(self) -> str:
        state = "banned" if self.banned else "closed" if self.closed else "live"
        return f"<Context {self.id} {state} hangs={self.hangs}>"

    # -- lifetime --------------------------------------------------------------------------
    def finalize(self) -> None:
        """Make the proto-context real: a fresh PPGTT unless a VM was chosen."""
        from .ppgtt import Ppgtt

        with self.lock:
            if self.finalized:
                return
            if self.vm is None:
                self.vm = Ppgtt(self.gpu, f"ppgtt[{self.fpriv.name}:{self.id}]")
            self.finalized = True
        if trace.enabled:
            trace.emit("gpu", "context_create", ctx=self.id, vm=self.vm.name)

    def close(self) -> None:
        """Destroyed or its file released: no new work; its space goes with the last
        reference (engines may cancel queued work of a closed context)."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            vm = self.vm
        # ``vm`` stays readable for an execbuf that looked the context up before the
        # close; that space is closed with its last reference, and pins in it then fail.
        if vm is not None:
            self.gpu.vm_put(vm)
        if trace.enabled:
            trace.emit("gpu", "context_close", ctx=self.id)

    # -- hangs -----------------------------------------------------------------------------
    def mark_guilty(self) -> bool:
        """A request of this context hung and was reset; True if the context is now banned
        (later execbufs on it fail with EIO)."""
        with self.lock:
            self.guilty_count += 1
            self.hangs += 1
            if not self.bannable or self.banned:
                return self.banned
            if not self.recoverable or self.hangs >= BAN_AFTER_HANGS:
                self.banned = True
        if self.banned:
            self.fpriv.add_ban_score(I915_CLIENT_SCORE_CONTEXT_BAN)
            if trace.enabled:
                trace.emit("gpu", "context_ban", ctx=self.id, hangs=self.hangs)
        return self.banned

    # -- SETPARAM ----------------------------------------------------------------------------
    def setparam(self, param: int, size: int, value: int, *, mm: UserMemory | None = None,
                 privileged: bool = False) -> int:
        """CONTEXT_SETPARAM (or a create-time SETPARAM extension); returns the size to write
        back.  Proto-contexts accept VM/ENGINES/PROTECTED_CONTENT, final ones EINVAL."""
        with self.lock:
            proto = not self.finalized
            if param == P_NO_ERROR_CAPTURE:
                _no_size(size)
                self.no_error_capture = bool(value)
            elif param == P_BANNABLE:
                self._set_bannable(size, value, privileged)
            elif param == P_RECOVERABLE:
                _no_size(size)
                self.recoverable = bool(value)
            elif param == P_PRIORITY:
                self.priority = _validate_priority(size, value, privileged)
            elif param == P_SSEU:
                _sseu_unsupported(size)
            elif param == P_PERSISTENCE:
                _no_size(size)
                self.persistent = bool(value)
            elif proto and param == P_VM:
                self._set_vm(size, value)
            elif proto and param == P_ENGINES:
                self._set_engines(size, value, mm)
            elif proto and param == P_PROTECTED:
                if value:
                    raise ENODEV("no PXP on this platform")
            else:
                raise EINVAL(f"context param {param:#x} cannot be set"
                             f"{'' if proto else ' after first use'}")
            return size

    def _set_bannable(self, size: int, value: int, privileged: bool) -> None:
        _no_size(size)
        if not privileged and not value:
            raise EPERM("only CAP_SYS_ADMIN may make a context unbannable")
        self.bannable = bool(value)

    def _set_vm(self, size: int, value: int) -> None:
        _no_size(size)
        if value >> 32:
            raise ENOENT(f"vm id {value:#x}")
        vm = self.fpriv.vm_lookup(value)
        if self.vm is not None:
            self.gpu.vm_put(self.vm)
        self.vm = vm

    def _set_engines(self, size: int, value: int, mm: UserMemory | None) -> None:
        """The engine map: ``{u64 extensions; {u16 class, u16 instance}[n]}``."""
        if self.user_engines is not None:
            raise EINVAL("engines may be set only once")
        if size < _ENGINES_HEADER or (size - _ENGINES_HEADER) % _ENGINE_CI.size:
            raise EINVAL(f"engine map of {size} bytes")
        count = (size - _ENGINES_HEADER) // _ENGINE_CI.size
        if count > _EXEC_RING_MASK + 1:
            raise EINVAL(f"{count} engines")
        engines: list[tuple[int, int] | None] = []
        for n in range(count):
            addr = value + _ENGINES_HEADER + n * _ENGINE_CI.size
            cls, inst = _ENGINE_CI.unpack(_read(mm, addr, _ENGINE_CI.size))
            if cls == _CLASS_INVALID and inst == _INSTANCE_NONE:
                engines.append(None)
            elif (cls, inst) not in self.gpu.engines:
                raise ENOENT(f"engine {{{cls}, {inst}}}")
            else:
                engines.append((cls, inst))
        (extensions,) = struct.unpack("<Q", _read(mm, value, 8))
        if extensions:
            # Load-balancing/bonding extensions are not modelled (one engine per class).
            raise EINVAL("engine map extensions are not supported")
        self.user_engines = engines

    # -- GETPARAM ----------------------------------------------------------------------------
    def getparam(self, param: int, size: int, value: int, *, mm: UserMemory | None = None,
                 ) -> tuple[int, int]:
        """CONTEXT_GETPARAM on a finalized context: the (size, value) to write back."""
        if param == P_GTT_SIZE:
            vm = self.vm
            return 0, (vm.total if vm is not None else self.gpu.ggtt.total)
        flags = {P_NO_ERROR_CAPTURE: self.no_error_capture, P_BANNABLE: self.bannable,
                 P_RECOVERABLE: self.recoverable, P_PERSISTENCE: self.persistent,
                 P_PROTECTED: False}
        if param in flags:
            return 0, int(flags[param])
        if param == P_PRIORITY:
            return 0, self.priority & _U64
        if param == P_SSEU:
            return self._get_sseu(size, value, mm), value
        if param == P_VM:
            if self.vm is None:
                raise ENODEV("context has no PPGTT")
            return 0, self.fpriv.vm_install(self.vm)
        raise EINVAL(f"context param {param:#x} cannot be read")

    def _get_sseu(self, size: int, value: int, mm: UserMemory | None) -> int:
        """The render engine's slice/subslice/EU configuration (the device's full one)."""
        if size == 0:
            return SSEU_SIZE
        if size < SSEU_SIZE:
            raise EINVAL(f"sseu param of {size} bytes")
        cls, inst, flags, _, _, _, _, rsvd = _SSEU.unpack(_read(mm, value, SSEU_SIZE))
        if rsvd or flags & ~SSEU_FLAG_ENGINE_INDEX:
            raise EINVAL("sseu rsvd/flags")
        if bool(flags & SSEU_FLAG_ENGINE_INDEX) != (self.user_engines is not None):
            raise EINVAL("sseu engine lookup mode does not match the engine map")
        if self.user_engines is not None:
            if inst >= len(self.user_engines) or self.user_engines[inst] is None:
                raise EINVAL(f"no engine at index {inst}")
        elif (cls, inst) not in self.gpu.engines:
            raise EINVAL(f"no engine {{{cls}, {inst}}}")
        plat = self.gpu.platform
        eus = plat.eu_total // max(1, plat.subslice_total)
        out = _SSEU.pack(cls, inst, flags, 0x1, (1 << plat.subslice_total) - 1, eus, eus, 0)
        _write(mm, value, out)
        return SSEU_SIZE


def _no_size(size: int) -> None:
    if size:
        raise EINVAL(f"param size {size} must be 0")


def _validate_priority(size: int, value: int, privileged: bool) -> int:
    _no_size(size)
    prio = _signed64(value)
    if not MIN_USER_PRIORITY <= prio <= MAX_USER_PRIORITY:
        raise EINVAL(f"priority {prio} out of range")
    if prio > DEFAULT_PRIORITY and not privileged:
        raise EPERM("raising priority needs CAP_SYS_NICE")
    return prio


def _sseu_unsupported(size: int) -> None:
    if size < SSEU_SIZE:
        raise EINVAL(f"sseu param of {size} bytes")
    raise ENODEV("SSEU reconfiguration is gen11 only")


def _read(mm: UserMemory | None, addr: int, n: int) -> bytes:
    if mm is None:
        raise EFAULT("no user memory to read the parameter from")
    data: bytes = mm.copy_from_user(addr, n)
    return data


def _write(mm: UserMemory | None, addr: int, data: bytes) -> None:
    if mm is None:
        raise EFAULT("no user memory to write the parameter to")
    mm.copy_to_user(addr, data)
