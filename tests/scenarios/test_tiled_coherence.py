"""A tiled object seen three ways agrees: the CPU through the fenced GTT mmap (linear image),
pread (raw tile layout) and the blitter's tiled XY_SRC_COPY (IGT gem_tiled_blits style)."""

from __future__ import annotations

import numpy as np
from gpuscene import Exec, Gem, obj, reloc, xy_src_copy

import softgem
from softgem import igt, uapi

W, H = 512, 32                  # 32 bpp pixels: a 2048-byte pitch, 4 rows of X tiles
PITCH, SIZE = W * 4, W * 4 * H
SRC_TILED, DST_TILED = 1 << 15, 1 << 11     # XY_SRC_COPY_BLT header bits (X tiling)


def blit(gem: Gem, dst: int, src: int, head_bits: int, dst_pitch: int, src_pitch: int) -> None:
    bb, d_off = 16 << 20, (16 << 20) + 4096
    s_off = d_off + SIZE
    words = xy_src_copy(d_off, s_off, W, H, dst_pitch=dst_pitch, src_pitch=src_pitch)
    words[0] |= head_bits
    batch = gem.batch(words)
    relocs = [reloc(dst, 16, uapi.I915_GEM_DOMAIN_RENDER, uapi.I915_GEM_DOMAIN_RENDER,
                    presumed=d_off),
              reloc(src, 32, uapi.I915_GEM_DOMAIN_RENDER, 0, presumed=s_off)]
    ex = Exec([obj(dst, d_off), obj(src, s_off), obj(batch, bb)], {2: relocs},
              flags=uapi.I915_EXEC_BLT)
    assert gem.execbuf(ex, retry=True) == 0
    gem.sync(dst)
    gem.close(batch)


def test_gtt_pread_and_tiled_blits_agree_on_an_x_tiled_object(
        machine: softgem.Machine) -> None:
    gem = Gem(machine.spawn())
    tiled = gem.create(SIZE)
    igt.gem_set_tiling(gem.proc, gem.fd, tiled, uapi.I915_TILING_X, PITCH)
    gtt = igt.gem_mmap__gtt(gem.proc, gem.fd, tiled, SIZE)
    image = np.arange(SIZE // 4, dtype=np.uint32)
    gem.proc.write(gtt, image.tobytes())

    # The blitter detiles the object (source tiled: pitch in dwords) into a linear one.
    linear = gem.create(SIZE)
    blit(gem, linear, tiled, SRC_TILED, PITCH, PITCH // 4)
    assert gem.read(linear, 0, SIZE) == image.tobytes()

    # And tiles a new linear image into the object: the GTT shows it linear again, while
    # pread shows the raw layout (pixel (x, y) of an X tile row).
    other = (image[::-1] ^ 0x5A5A5A5A).astype(np.uint32)
    src = gem.create(SIZE, other.tobytes())
    blit(gem, tiled, src, DST_TILED, PITCH // 4, PITCH)
    assert gem.proc.read(gtt, SIZE) == other.tobytes()
    raw = np.frombuffer(gem.read(tiled, 0, SIZE), dtype=np.uint32)
    x, y = 130, 9                                       # tile (1, 1) of the 4 x 4 tiles
    tiled_at = ((y // 8) * (PITCH // 512) + (x * 4) // 512) * 4096 + (y % 8) * 512 + x * 4 % 512
    assert raw[tiled_at // 4] == other[y * W + x]
    gem.proc.exit()
