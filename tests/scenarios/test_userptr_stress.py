"""Threaded stress: blits from overlapping userptrs while another thread remaps their memory.

Three submitter threads, each with its own GPU context, blit over and over from three
userptrs that overlap pairwise into their own GEM objects, and check every result.  Meanwhile a remapper thread keeps replacing
64 KiB chunks of the userptrs' memory: it fills a fresh mapping with the chunk's content and
moves it over the chunk with ``mremap(MREMAP_FIXED)``.  Each move is an UNMAP invalidation of
every userptr overlapping the chunk (so submissions revalidate, and some collide and are
retried), yet the memory's *content* never changes, so every blit must produce exactly the
pattern of its source range.  At the end nothing may stay pinned, bound or allocated.
"""

from __future__ import annotations

import errno
import threading

import numpy as np
from gpuscene import ANON, RW, Gem

import softgem
from softgem.posix import MREMAP_FIXED, MREMAP_MAYMOVE

CHUNK = 64 << 10
NCHUNKS = 4
USERPTR = 2 * CHUNK                  # userptr i covers chunks i and i + 1
ROUNDS = 12
REMAPS = 24


def content(start: int, size: int) -> bytes:
    """The invariant content of bytes ``[start, start + size)`` of the region."""
    return np.arange(start // 4, (start + size) // 4, dtype="<u4").tobytes()


def test_blits_from_overlapping_userptrs_survive_concurrent_remaps(
        machine: softgem.Machine) -> None:
    gem = Gem(machine.spawn("stress"))
    proc = gem.proc
    region = proc.mmap(0, NCHUNKS * CHUNK, RW, ANON)
    proc.write(region, content(0, NCHUNKS * CHUNK))
    userptrs = [gem.userptr(region + i * CHUNK, USERPTR) for i in range(NCHUNKS - 1)]
    errors: list[str] = []
    outcomes: dict[int, int] = {}
    lock = threading.Lock()

    def submitter(me: int) -> None:
        dst = gem.create(USERPTR)
        ctx = gem.context()          # one GPU context per thread, as a threaded driver has
        try:
            for r in range(ROUNDS):
                src = (me + r) % len(userptrs)
                err = gem.copy(dst, userptrs[src], size=USERPTR, ctx=ctx)
                with lock:
                    outcomes[err] = outcomes.get(err, 0) + 1
                if err == 0 and gem.read(dst, 0, USERPTR) != content(src * CHUNK, USERPTR):
                    errors.append(f"thread {me} round {r}: wrong data from userptr {src}")
        except Exception as exc:
            errors.append(f"thread {me}: {exc!r}")
        finally:
            gem.close(dst)

    def remapper() -> None:
        try:
            for k in range(REMAPS):
                chunk = k % NCHUNKS
                fresh = proc.mmap(0, CHUNK, RW, ANON)
                proc.write(fresh, content(chunk * CHUNK, CHUNK))
                moved = proc.mremap(fresh, CHUNK, CHUNK, MREMAP_MAYMOVE | MREMAP_FIXED,
                                    region + chunk * CHUNK)
                assert moved == region + chunk * CHUNK
        except Exception as exc:
            errors.append(f"remapper: {exc!r}")

    threads = [threading.Thread(target=submitter, args=(i,)) for i in range(3)]
    threads.append(threading.Thread(target=remapper))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread is stuck"
    assert errors == []
    # The remaps never leave a hole a pin could see (mremap holds mmap_lock for write), so
    # every blit succeeds; collisions were retried inside the helper, as drmIoctl does.
    assert outcomes == {0: 3 * ROUNDS}, outcomes
    assert set(outcomes) <= {0, -errno.EFAULT}
    assert proc.read(region, NCHUNKS * CHUNK) == content(0, NCHUNKS * CHUNK)
    for h in userptrs:
        gem.close(h)
    proc.munmap(region, NCHUNKS * CHUNK)
    machine.device.gpu.reap(wait=True)
    assert machine.phys.nr_pinned() == 0
