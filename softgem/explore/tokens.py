"""Replay tokens: one short string that reproduces one schedule exactly.

``random:s<seed>``, ``pct:d<depth>:k<steps>:s<seed>`` name a seeded execution;
``dfs:k<bound>:<b32>``, ``dpor:k<bound>:<b32>`` and ``replay:<b32>`` carry a choice list.  A choice list is stored as
its *deviations* from the default rule (keep running the current task; when it blocks, run
the lowest-numbered runnable one): pairs (choice number, task) as varints, base32 without
padding.  Most choices of a schedule are defaults, so tokens stay short.
"""

from __future__ import annotations

import base64

__all__ = ["decode_choices", "encode_choices", "parse"]


def encode_choices(deviations: list[tuple[int, int]]) -> str:
    out = bytearray()
    last = 0
    for at, task in deviations:
        for v in (at - last, task):
            while True:
                b = v & 0x7F
                v >>= 7
                out.append(b | (0x80 if v else 0))
                if not v:
                    break
        last = at
    return base64.b32encode(bytes(out)).decode().rstrip("=").lower() or "-"


def decode_choices(text: str) -> list[tuple[int, int]]:
    if text == "-":
        return []
    raw = base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    vals: list[int] = []
    v = shift = 0
    for b in raw:
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            vals.append(v)
            v = shift = 0
    out: list[tuple[int, int]] = []
    last = 0
    for i in range(0, len(vals) - 1, 2):
        last += vals[i]
        out.append((last, vals[i + 1]))
    return out


def parse(token: str) -> tuple[str, dict[str, int], str]:
    """``(strategy, numeric fields, choice text)``; ValueError for a malformed token."""
    parts = token.strip().split(":")
    kind = parts[0]
    fields: dict[str, int] = {}
    rest = ""
    for part in parts[1:]:
        if len(part) > 1 and part[0] in "dksn" and part[1:].isdigit():
            fields[part[0]] = int(part[1:])
        else:
            rest = part
    if kind not in ("random", "pct", "dfs", "dpor", "replay"):
        raise ValueError(f"unknown replay token {token!r}")
    if kind in ("random", "pct") and "s" not in fields:
        raise ValueError(f"replay token {token!r} lacks its seed (s...)")
    if kind in ("dfs", "dpor", "replay") and not rest:
        raise ValueError(f"replay token {token!r} lacks its choice list")
    return kind, fields, rest
