"""One fuzzed ioctl as a replayable record (:class:`Call`), and the structure-aware draw.

A :class:`Call` is plain data: which of the fuzzer's fds, the request number, how the
argument is passed (``struct``: a ctypes object holding ``payload``; ``address``: ``payload``
written into the scratch area at ``where``; ``pointer``: ``where`` itself, any address), and
``setup``: byte strings written into the scratch area first (exec object lists, relocation
arrays, extension chains, item arrays).  Replayed in a world of the same seed, it does
exactly what it did (:func:`apply`).

The draw (:func:`draw_call`) knows the uAPI: every row of the ioctl table, or a mutation of
its request (wrong size, flipped direction, a random command, a foreign type); handle fields
get the fuzzer's own handles, the victim's (valid in another process's file), 0 or noise;
pointer fields point at the scratch area, its last bytes before the hole, the hole, the
read-only page, the userptr's and GTT mapping's memory, NULL, the kernel half or noise;
count and size fields get small values, page multiples or huge ones; extension pointers get a
chain whose link points at itself; EXECBUFFER2 gets a random object list (handles, flags,
offsets, relocations) over the world's batches.
"""

from __future__ import annotations

import ctypes
import random
from dataclasses import dataclass
from typing import Any

from .. import uapi
from ..uapi import _IOC, _IOC_DIR, _IOC_NR, _IOC_READ, _IOC_SIZE, _IOC_TYPE, _IOC_WRITE, table
from ..units import PAGE_SIZE, TASK_SIZE
from .world import World

__all__ = ["Call", "ROWS", "apply", "draw_call"]

ROWS: tuple[table.IoctlDesc, ...] = (*table.CORE_IOCTLS, *table.I915_IOCTLS)
_U64 = (1 << 64) - 1
HUGE = (1 << 31, (1 << 32) - 1, 1 << 32, 0x4000000, 15_790_318, (1 << 63), _U64, _U64 - 7,
        1 << 40, (1 << 47) - PAGE_SIZE)
POINTER_FIELDS = {"value", "name", "date", "desc", "unique", "data_ptr", "user_ptr",
                  "items_ptr", "extensions", "buffers_ptr", "cliprects_ptr", "relocs_ptr",
                  "properties_ptr", "handles", "points", "addr_ptr", "regions", "next_extension"}
HANDLE_FIELDS = {"handle", "bo_handle", "target_handle", "ctx_id", "vm_id"}
SIZE_FIELDS = {"size", "user_size", "name_len", "date_len", "desc_len", "unique_len",
               "num_items", "length", "offset", "buffer_count", "num_cliprects",
               "relocation_count", "batch_len", "batch_start_offset", "count", "fence_count"}
EXTENSION_FIELDS = {"extensions", "next_extension"}


@dataclass(frozen=True)
class Call:
    fd: int
    request: int
    how: str
    payload: bytes
    where: int = 0
    setup: tuple[tuple[int, bytes], ...] = ()

    def __repr__(self) -> str:
        setup = ", ".join(f"({off}, bytes.fromhex({data.hex()!r}))" for off, data in self.setup)
        return (f"Call(fd={self.fd}, request={self.request:#010x}, how={self.how!r}, "
                f"payload=bytes.fromhex({self.payload.hex()!r}), where={self.where:#x}, "
                f"setup=({setup}{',' if len(self.setup) == 1 else ''}))")


def apply(w: World, call: Call) -> int:
    """Issue ``call`` in ``w``'s fuzzer: 0, or the errno of the OSError it raised.  Any other
    exception propagates (that is a failure)."""
    f = w.fuzzer
    for off, data in call.setup:
        f.write(w.scratch + off, data[: w.scratch_size - off])
    arg: Any
    if call.how == "struct":
        arg = (ctypes.c_uint8 * max(len(call.payload), 1)).from_buffer_copy(
            call.payload or b"\0")
    elif call.how == "address":
        f.write(w.scratch + call.where, call.payload)
        arg = w.scratch + call.where
    else:
        arg = call.where
    try:
        f.ioctl(w.fds[call.fd % len(w.fds)], call.request, arg)
    except OSError as err:
        if not isinstance(err.errno, int) or err.errno <= 0:
            raise AssertionError(f"an OSError without an errno: {err!r}") from err
        return err.errno
    return 0


# -- the draw ----------------------------------------------------------------------------------
def pointer(rng: random.Random, w: World) -> int:
    span = w.scratch_size
    pick = rng.randrange(12)
    if pick < 3:
        return w.scratch + rng.randrange(span)
    if pick == 3:
        return w.scratch + span - rng.randrange(1, 65)          # crosses into the hole
    if pick == 4:
        return w.scratch + span + rng.randrange(PAGE_SIZE)      # the hole
    return rng.choice([w.scratch, w.readonly, w.uptr, w.gtt, 0, 0x1000,
                       0xFFFF_8000_0000_0000 + rng.randrange(64) * PAGE_SIZE,
                       TASK_SIZE - rng.randrange(1, 2 * PAGE_SIZE), rng.getrandbits(64)])


def size(rng: random.Random) -> int:
    pick = rng.randrange(4)
    if pick == 0:
        return rng.choice(HUGE)
    if pick == 1:
        return rng.choice([0, 1, 4, 8, 16, 32, 64, PAGE_SIZE, 2 * PAGE_SIZE, PAGE_SIZE - 1])
    return rng.randrange(4 * PAGE_SIZE)


def handle(rng: random.Random, w: World) -> int:
    return rng.choice([*w.handles, *w.victim_handles, 0, 1, 99, rng.getrandbits(32)])


def _self_loop(rng: random.Random, w: World, setup: list[tuple[int, bytes]]) -> int:
    """An extension at a random scratch offset whose ``next_extension`` is itself."""
    off = rng.randrange(0, w.scratch_size - 64) & ~7
    at = w.scratch + off
    ext = at.to_bytes(8, "little") + rng.choice([0, 1, 2, rng.getrandbits(32)]).to_bytes(
        4, "little") + bytes(20) + rng.randbytes(32)
    setup.append((off, ext))
    return at


def _patch(rng: random.Random, w: World, s: ctypes.Structure,
           setup: list[tuple[int, bytes]]) -> None:
    for spec in type(s)._fields_:
        name, ctype = spec[0], spec[1]
        if not isinstance(ctype, type) or not issubclass(ctype, ctypes._SimpleCData):
            continue
        if rng.random() < 0.4:
            continue
        mask = (1 << (8 * ctypes.sizeof(ctype))) - 1
        if name in EXTENSION_FIELDS and ctypes.sizeof(ctype) == 8 and rng.random() < 0.5:
            value = _self_loop(rng, w, setup)
        elif name in HANDLE_FIELDS:
            value = handle(rng, w)
        elif name == "fd":
            value = rng.randrange(-1, 12)
        elif name in POINTER_FIELDS and ctypes.sizeof(ctype) == 8:
            value = pointer(rng, w)
        elif name in SIZE_FIELDS:
            value = size(rng)
        elif name == "flags":
            value = rng.choice([0, 0, 1 << rng.randrange(32), rng.getrandbits(64)])
        else:
            value = rng.getrandbits(64)
        setattr(s, name, value & mask)


def _exec_list(rng: random.Random, w: World, eb: Any, setup: list[tuple[int, bytes]]) -> None:
    """A random exec object list over the world's handles, ending (usually) in a batch,
    with relocation arrays; ``eb`` points at it."""
    n = rng.randrange(1, 6)
    objs = (uapi.drm_i915_gem_exec_object2 * n)()
    relocs_at = 2 * PAGE_SIZE
    for i, o in enumerate(objs):
        o.handle = rng.choice(w.batches) if i == n - 1 and rng.random() < 0.8 else handle(rng, w)
        o.flags = rng.choice([0, uapi.EXEC_OBJECT_SUPPORTS_48B_ADDRESS,
                              uapi.EXEC_OBJECT_PINNED | uapi.EXEC_OBJECT_SUPPORTS_48B_ADDRESS,
                              uapi.EXEC_OBJECT_WRITE, 1 << rng.randrange(64)])
        o.offset = rng.choice([0, rng.randrange(1 << 20) << 12, rng.getrandbits(64)])
        o.alignment = rng.choice([0, 0, PAGE_SIZE, 3, 1 << 40])
        if rng.random() < 0.3:
            nrel = rng.choice([1, 2, 8, rng.choice(HUGE) & 0xFFFFFFFF])
            rels = (uapi.drm_i915_gem_relocation_entry * min(nrel, 8))()
            for r in rels:
                r.target_handle = rng.randrange(n + 1) if rng.random() < 0.5 else handle(rng, w)
                r.offset = rng.choice([0, 8, 4092, rng.getrandbits(64)])
                r.read_domains = rng.choice([0, uapi.I915_GEM_DOMAIN_RENDER, rng.getrandbits(32)])
                r.delta = rng.getrandbits(32)
            setup.append((relocs_at, bytes(rels)))
            o.relocation_count = nrel
            o.relocs_ptr = w.scratch + relocs_at if rng.random() < 0.9 else pointer(rng, w)
            relocs_at += ctypes.sizeof(rels)
    at = rng.randrange(0, PAGE_SIZE) & ~7
    setup.append((at, bytes(objs)))
    eb.buffers_ptr = w.scratch + at
    eb.buffer_count = n if rng.random() < 0.85 else size(rng) & 0xFFFFFFFF
    eb.flags = rng.choice([0, uapi.I915_EXEC_BLT, uapi.I915_EXEC_NO_RELOC,
                           uapi.I915_EXEC_HANDLE_LUT, uapi.I915_EXEC_BATCH_FIRST,
                           uapi.I915_EXEC_USE_EXTENSIONS, uapi.I915_EXEC_FENCE_ARRAY])
    if eb.flags & uapi.I915_EXEC_USE_EXTENSIONS:
        eb.cliprects_ptr = _self_loop(rng, w, setup)
    elif eb.flags & uapi.I915_EXEC_FENCE_ARRAY:
        eb.num_cliprects, eb.cliprects_ptr = size(rng) & 0xFFFFFFFF, pointer(rng, w)
    eb.batch_start_offset = rng.choice([0, 0, 8, 4096])
    eb.batch_len = rng.choice([0, 0, 8, 16, 4096, 12])


def _request(rng: random.Random, desc: table.IoctlDesc) -> int:
    cmd = desc.cmd
    pick = rng.randrange(10)
    if pick < 6:
        return cmd
    if pick == 6:
        return _IOC(_IOC_DIR(cmd), _IOC_TYPE(cmd), _IOC_NR(cmd), rng.randrange(1 << 14))
    if pick == 7:
        return _IOC(rng.randrange(4), _IOC_TYPE(cmd), _IOC_NR(cmd), _IOC_SIZE(cmd))
    if pick == 8:
        return _IOC(_IOC_READ | _IOC_WRITE, ord("d"), rng.randrange(256), rng.choice([8, 64]))
    return rng.getrandbits(32)


def draw_call(rng: random.Random, w: World) -> Call:
    desc = rng.choice(ROWS)
    request = _request(rng, desc) & 0xFFFFFFFF
    usize = _IOC_SIZE(request)
    raw = rng.randbytes(usize)
    setup: list[tuple[int, bytes]] = []
    if desc.struct is not None and usize >= ctypes.sizeof(desc.struct):
        s = desc.struct.from_buffer_copy(raw)
        if desc.struct is uapi.drm_i915_gem_execbuffer2 and rng.random() < 0.7:
            s = uapi.drm_i915_gem_execbuffer2()
            _exec_list(rng, w, s, setup)
        else:
            _patch(rng, w, s, setup)
        raw = bytes(s) + raw[ctypes.sizeof(s):]
    how = rng.choice(["struct", "struct", "address", "pointer"])
    where = 0
    if how == "address":
        if len(raw) > w.scratch_size - 3 * PAGE_SIZE:
            how = "struct"
        else:
            where = rng.randrange(3 * PAGE_SIZE, w.scratch_size - len(raw) + 1)
    elif how == "pointer":
        where = pointer(rng, w)
    return Call(rng.randrange(len(w.fds)), request, how, raw, where, tuple(setup))
