"""host-blit: a 64 MiB userptr -> userptr XY_SRC_COPY under ``softgem run``, against memcpy.

One C program (built here with gcc against libdrm) runs under the full supervisor with the
real core: it maps two 64 MiB buffers, times ``memcpy`` between them (after a warm-up that
faults every page), makes both userptr objects and times EXECBUFFER2 of one XY_SRC_COPY_BLT
(4096 rows of 16 KiB, softpinned) plus GEM_WAIT on the destination, then checks that the
destination holds the source's bytes.  The first blit (which pins both objects) is a warm-up;
then memcpy and blit rounds alternate (a busy machine slows both alike) and each side
reports its median.  The floor row times the two moves a host-mode blit cannot avoid,
made by the bench process on the same program's buffers (run outside the supervisor).

In host mode the blit moves the bytes twice: the source pages are read from the program
straight into the destination's frames (``process_vm_readv``; UserFrames.gpu_copy, since
the blit overwrites whole pages), and the destination frames are written back into the
program when the request ends (``process_vm_writev``); each move runs in two halves at once
(a remote move walks the program's page tables page by page: CPU-bound, so two cores halve
it).  No system call copies between two
places of another process, so those two moves are the floor.  Target: memcpy time / blit
time >= 0.25.
"""

from __future__ import annotations

import functools
import os
import shutil
import statistics
import subprocess
import tempfile
import time

import numpy as np

from ..host import CoreBackend, Supervisor, move_frames
from ..sync import Workqueue
from .runner import BenchResult

__all__ = ["bench_host_blit"]

SIZE = 64 << 20
PROGRAM = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>
#include <i915_drm.h>

#define SZ (64u << 20)
#define PITCH 16384u

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int rounds = atoi(argv[1]);
    FILE *out = fopen(argv[2], "w");
    char *src = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *dst = mmap(NULL, SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!out || src == MAP_FAILED || dst == MAP_FAILED)
        return 1;
    for (uint32_t i = 0; i < SZ / 4; i++)
        ((uint32_t *)src)[i] = i * 2654435761u;
    memset(dst, 0, SZ);
    if (rounds == 0) {      /* the floor: hold the buffers for the bench to move */
        fprintf(out, "%lu %lu\n", (unsigned long)src, (unsigned long)dst);
        fclose(out);
        pause();
        return 0;
    }
    int fd = open("/dev/dri/card0", O_RDWR);
    if (fd < 0)
        return 1;
    double t_cpu[32], t_gpu[32];
    memcpy(dst, src, SZ);
    memset(dst, 0, SZ);
    struct drm_i915_gem_userptr us = { .user_ptr = (uintptr_t)src, .user_size = SZ };
    struct drm_i915_gem_userptr ud = { .user_ptr = (uintptr_t)dst, .user_size = SZ };
    if (drmIoctl(fd, DRM_IOCTL_I915_GEM_USERPTR, &us) || drmIoctl(fd, DRM_IOCTL_I915_GEM_USERPTR, &ud))
        return 3;
    uint32_t cmd[] = { (2u << 29) | (0x53u << 22) | (3u << 20) | 8,
                       (3u << 24) | (0xCCu << 16) | PITCH, 0, ((SZ / PITCH) << 16) | (PITCH / 4),
                       128u << 20, 0, 0, PITCH, 64u << 20, 0, 0x0Au << 23, 0 };
    struct drm_i915_gem_create create = { .size = 4096 };
    drmIoctl(fd, DRM_IOCTL_I915_GEM_CREATE, &create);
    struct drm_i915_gem_pwrite pw = { .handle = create.handle, .size = sizeof(cmd),
                                      .data_ptr = (uintptr_t)cmd };
    drmIoctl(fd, DRM_IOCTL_I915_GEM_PWRITE, &pw);
    struct drm_i915_gem_exec_object2 obj[3] = {
        { .handle = us.handle, .offset = 64u << 20, .flags = EXEC_OBJECT_PINNED },
        { .handle = ud.handle, .offset = 128u << 20,
          .flags = EXEC_OBJECT_PINNED | EXEC_OBJECT_WRITE },
        { .handle = create.handle, .offset = 256u << 20, .flags = EXEC_OBJECT_PINNED },
    };
    struct drm_i915_gem_execbuffer2 eb = { .buffers_ptr = (uintptr_t)obj, .buffer_count = 3,
                                           .flags = I915_EXEC_BLT };
    for (int r = 0; r <= rounds; r++) {      /* round 0 pins; then memcpy and blit alternate */
        double t0 = now();
        if (r) {
            memcpy(dst, src, SZ);
            t_cpu[r - 1] = now() - t0;
            memset(dst, 0, SZ);
            t0 = now();
        }
        if (drmIoctl(fd, DRM_IOCTL_I915_GEM_EXECBUFFER2, &eb))
            return 4;
        struct drm_i915_gem_wait w = { .bo_handle = ud.handle, .timeout_ns = -1 };
        if (drmIoctl(fd, DRM_IOCTL_I915_GEM_WAIT, &w))
            return 5;
        if (r)
            t_gpu[r - 1] = now() - t0;
        if (memcmp(src, dst, SZ))
            return 6;
    }
    if (memcmp(src, dst, SZ))
        return 6;
    qsort(t_cpu, rounds, sizeof(double), cmp);
    qsort(t_gpu, rounds, sizeof(double), cmp);
    fprintf(out, "%.6f %.6f\n", t_cpu[rounds / 2], t_gpu[rounds / 2]);
    fclose(out);
    return 0;
}
"""


def _compile(workdir: str) -> str:
    if shutil.which("gcc") is None or shutil.which("pkg-config") is None:
        raise RuntimeError("host-blit needs gcc, pkg-config and libdrm-dev (scripts/setup)")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libdrm"], capture_output=True,
                           text=True, check=True).stdout.split()
    src = os.path.join(workdir, "blit.c")
    exe = os.path.join(workdir, "blit")
    with open(src, "w") as f:
        f.write(PROGRAM)
    subprocess.run(["gcc", "-O2", "-o", exe, src, *flags], check=True)
    return exe


def measure(rounds: int) -> tuple[float, float]:
    """(memcpy seconds, blit seconds): medians of ``rounds`` in one program."""
    with tempfile.TemporaryDirectory(prefix="softgem-bench-") as workdir:
        exe = _compile(workdir)
        out = os.path.join(workdir, "result")
        status = Supervisor(CoreBackend(memory=160 << 20)).run([exe, str(rounds), out])
        if status != 0:
            raise RuntimeError(f"host-blit program failed with status {status}")
        with open(out) as f:
            cpu, gpu = (float(x) for x in f.read().split())
    return cpu, gpu


def _move_into(moved: list[int], pid: int, base: int, remote: int, off: int,
               write: bool) -> None:
    moved.append(move_frames(pid, base, [(remote, off, SIZE // 2)], write))


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def floor(rounds: int) -> float:
    """What the blit cannot avoid (median seconds): ``process_vm_readv`` of the 64 MiB
    source of the same program (run outside the supervisor, holding its buffers) into this
    process's frames, and ``process_vm_writev`` of them onto its destination, each in two
    halves at once as UserFrames moves them.  No system call moves bytes between two places
    of another process."""
    frames = np.zeros(SIZE, dtype=np.uint8)
    base = int(frames.ctypes.data)
    times = []
    with tempfile.TemporaryDirectory(prefix="softgem-bench-") as workdir:
        exe = _compile(workdir)
        out = os.path.join(workdir, "addrs")
        proc = subprocess.Popen([exe, "0", out])
        try:
            deadline = time.monotonic() + 30
            while not _read(out).endswith("\n"):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the floor's program did not start")
                time.sleep(0.01)
            src, dst = (int(x) for x in _read(out).split())
            half = SIZE // 2
            helper = Workqueue("bench.floor")
            try:
                for _ in range(rounds):
                    moved: list[int] = []
                    t0 = time.perf_counter()
                    for remote, write in ((src, False), (dst, True)):
                        work = helper.queue(functools.partial(
                            _move_into, moved, proc.pid, base, remote + half, half, write))
                        _move_into(moved, proc.pid, base, remote, 0, write)
                        work.wait()
                    times.append(time.perf_counter() - t0)
                    if sum(moved) != 2 * SIZE:
                        raise RuntimeError("the floor's moves were short")
            finally:
                helper.destroy()
        finally:
            proc.kill()
            proc.wait()
    return statistics.median(times)


def bench_host_blit(quick: bool) -> BenchResult:
    rounds = 3 if quick else 7
    cpu, gpu = measure(rounds)
    low = floor(rounds)
    result = BenchResult(f"host-blit: {SIZE >> 20} MiB userptr -> userptr XY_SRC_COPY "
                         f"under softgem run, {rounds} rounds (medians)")
    result.add("memcpy in the program", f"{cpu * 1e3:.1f} ms  ({SIZE / cpu / 1e9:.2f} GB/s)")
    result.add("EXECBUFFER2 + GEM_WAIT", f"{gpu * 1e3:.1f} ms  ({SIZE / gpu / 1e9:.2f} GB/s)")
    result.add("floor: remote readv + writev, 64 MiB", f"{low * 1e3:.1f} ms  "
               f"(memcpy/floor {cpu / low:.2f})")
    result.add("load average at the end", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    result.notes.append("the blit reads the source from the program into the destination "
                        "frames and writes them back into the program (userframes.py)")
    result.ratio("blit/memcpy throughput", cpu / gpu, 0.25, ">=")
    return result
