"""``softgem bench create-destroy``: IGT gem_userptr_benchmark's userptr-sync methodology.

In one run, side by side: create + close of one 64 KiB userptr (over posix_memalign'd memory in
IGT; here an anonymous mapping), create 100 then close 100 ("multi"), the same closing in random
order, and GETPARAM round trips as the yardstick.  Target: one create + close cycle costs at most
5x one GETPARAM round trip.
"""

from __future__ import annotations

import random

from .. import uapi
from ..machine import Machine, Process
from ..posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from .runner import BenchResult
from .timing import best_rates

__all__ = ["bench_create_destroy"]

BO_SIZE = 64 << 10
MULTI = 100


class _Client:
    def __init__(self, proc: Process) -> None:
        self.proc = proc
        self.fd = proc.open("/dev/dri/card0")
        self.ptr = proc.mmap(0, BO_SIZE * MULTI, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS)
        value = proc.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
        self.gp = uapi.drm_i915_getparam(param=uapi.I915_PARAM_CHIPSET_ID, value=value)
        self.rng = random.Random(1)

    def getparam(self, n: int) -> int:
        for _ in range(n):
            self.proc.ioctl(self.fd, uapi.DRM_IOCTL_I915_GETPARAM, self.gp)
        return n

    def _create(self, ptr: int) -> int:
        arg = uapi.drm_i915_gem_userptr(user_ptr=ptr, user_size=BO_SIZE, flags=0)
        self.proc.ioctl(self.fd, uapi.DRM_IOCTL_I915_GEM_USERPTR, arg)
        return int(arg.handle)

    def _close(self, handle: int) -> None:
        self.proc.ioctl(self.fd, uapi.DRM_IOCTL_GEM_CLOSE, uapi.drm_gem_close(handle=handle))

    def create_destroy(self, n: int) -> int:
        for _ in range(n):
            self._close(self._create(self.ptr))
        return n

    def multi(self, n: int, shuffle: bool) -> int:
        done = 0
        while done < n:
            handles = [self._create(self.ptr + i * BO_SIZE) for i in range(MULTI)]
            if shuffle:
                self.rng.shuffle(handles)
            for h in handles:
                self._close(h)
            done += MULTI
        return done


def bench_create_destroy(quick: bool) -> BenchResult:
    machine = Machine(memory=64 << 20)
    client = _Client(machine.spawn("bench"))
    n, rounds = (300, 3) if quick else (2000, 7)
    rates = best_rates({
        "getparam": lambda: client.getparam(n),
        "create-destroy": lambda: client.create_destroy(n),
        "multi-create-destroy": lambda: client.multi(n, shuffle=False),
        "multi-create-destroy (random order)": lambda: client.multi(n, shuffle=True),
    }, rounds)
    client.proc.exit()
    leaks = machine.counters().leaks()
    res = BenchResult("userptr create/destroy (IGT userptr-sync methodology)")
    for name, rate in rates.items():
        unit = "ioctl/s" if name == "getparam" else "objects/s"
        res.add(name, f"{rate:,.0f} {unit}")
    res.add("leaks after exit", str(leaks or "none"))
    # cost(create+close) / cost(getparam) = rate(getparam) / rate(create-destroy)
    res.ratio("create+close cost / GETPARAM cost", rates["getparam"] / rates["create-destroy"],
              5.0, "<=")
    return res
