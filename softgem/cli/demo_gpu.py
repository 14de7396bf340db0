"""The GPU scene of ``softgem demo``: a software renderer streams frames through userptrs.

A "renderer" process draws each frame with the CPU into one of two ordinary buffers of its
own memory, each wrapped in a userptr; the GPU blits the frame (XY_SRC_COPY on the blitter,
softpinned addresses, an out-fence) into a GEM object, the "screen", which the process looks
at through a write-combined mapping.  Along the way the renderer reallocates a buffer with
``mmap(MAP_FIXED)`` (an invalidation: the next submission re-pins), and a concurrent
``mprotect`` lands while a blit is being submitted (a collision: EAGAIN, and drmIoctl's
retry).  The scene prints the timeline of submits, invalidations, EAGAIN retries and fence
completions, and, when :func:`configure` was given a path (``softgem demo --timeline
PATH``), writes the same timeline as an SVG picture there.

The timeline's clock is logical (the order of events), so the picture does not depend on
the speed of the machine that draws it.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.table import Table

from .. import igt, trace, uapi
from ..gpu import MI_BATCH_BUFFER_END, MI_NOOP, attach, xy_src_copy_blt
from ..posix import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE

if TYPE_CHECKING:
    from ..machine import Machine, Process
    from .demo import Narrator

__all__ = ["GPU_SCENES", "Timeline", "configure", "timeline_svg"]

W, H = 256, 32                          # the screen: 256 x 32 pixels of 32 bits
PITCH = W * 4
SIZE = PITCH * H
RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
SCREEN_AT, BUFFER_AT, BATCH_AT = 0x10_0000, (0x20_0000, 0x30_0000), 0x1_0000
PINNED = uapi.EXEC_OBJECT_PINNED | uapi.EXEC_OBJECT_SUPPORTS_48B_ADDRESS
FRAMES = 6

_timeline_path: str | None = None


def configure(timeline: str | None = None) -> None:
    """Where the next run of the scene writes its SVG timeline (None: nowhere)."""
    global _timeline_path
    _timeline_path = timeline


# -- the timeline ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Mark:
    t: int              # logical time: the event's position in the run
    lane: str           # "renderer", "execbuf", "notifier", "bcs0"
    what: str
    kind: str           # "frame", "submit", "eagain", "invalidate", "fence", "gpu"


class Timeline:
    """The events of the run that matter for the picture, on a logical clock."""

    LANES = ("renderer", "execbuf", "notifier", "bcs0")

    def __init__(self) -> None:
        self.marks: list[Mark] = []
        self.spans: list[tuple[int, int, str]] = []      # GPU busy: (start, end, label)
        self._open: dict[str, int] = {}
        self._t = 0

    def _mark(self, lane: str, what: str, kind: str) -> None:
        self._t += 1
        self.marks.append(Mark(self._t, lane, what, kind))

    def frame(self, what: str) -> None:
        self._mark("renderer", what, "frame")

    def on_event(self, ev: trace.Event) -> None:
        f = ev.fields
        key = (ev.category, ev.name)
        if key == ("gpu", "execbuf"):
            err = f.get("error", 0)
            label = f"{f['engine']}#{f['seqno']}"
            self._mark("execbuf", f"submit {label}" + (" -> EAGAIN" if err else ""),
                       "eagain" if err else "submit")
        elif key == ("userptr", "invalidate"):
            self._mark("notifier", f"invalidate obj {f['obj']} ({f['event']})", "invalidate")
        elif key == ("userptr", "collision"):
            self._mark("execbuf", f"collision obj {f['obj']}", "eagain")
        elif key == ("gpu", "request_start"):
            self._t += 1
            self._open[f"{f['engine']}#{f['seqno']}"] = self._t
        elif key == ("gpu", "request_retire"):
            label = f"{f['engine']}#{f['seqno']}"
            self._t += 1
            start = self._open.pop(label, self._t - 1)
            self.spans.append((start, self._t, label + (" skipped" if f["skipped"] else "")))
            self._mark("bcs0", f"fence {label} " + (f"error {f['error']}" if f["error"]
                                                   else "signalled"), "fence")

    def table(self) -> Table:
        table = Table(title="timeline (logical clock)", show_lines=False)
        for col in ("t", "lane", "event"):
            table.add_column(col)
        for m in self.marks:
            table.add_row(str(m.t), m.lane, m.what)
        return table


_COLOURS = {"frame": "#2b7bb9", "submit": "#3a9d23", "eagain": "#d62728",
            "invalidate": "#9467bd", "fence": "#ff7f0e", "gpu": "#8c8c8c"}


#: Short visible labels under the marks that matter most (the rest have tooltips).
_TAGS = {"frame": "f", "eagain": "EAGAIN", "invalidate": "inv"}


def timeline_svg(tl: Timeline) -> str:
    """The timeline as a self-contained SVG document (one lane per row, GPU work as bars)."""
    step, left, lane_h, top = 14, 90, 44, 30
    width = left + step * (tl._t + 2) + 20
    height = top + lane_h * len(tl.LANES) + 40
    y_of = {lane: top + i * lane_h + lane_h // 2 for i, lane in enumerate(tl.LANES)}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           'font-family="monospace" font-size="11">',
           '<text x="8" y="18" font-size="13">softgem demo: userptr frames through the GPU'
           '</text>']
    for lane, y in y_of.items():
        out.append(f'<text x="8" y="{y + 4}">{lane}</text>')
        out.append(f'<line x1="{left}" y1="{y}" x2="{width - 10}" y2="{y}" stroke="#ddd"/>')
    for start, end, label in tl.spans:
        x, y = left + start * step, y_of["bcs0"]
        colour = _COLOURS["eagain"] if "skipped" in label else _COLOURS["gpu"]
        out.append(f'<rect x="{x}" y="{y - 8}" width="{max(step, (end - start) * step)}" '
                   f'height="16" fill="{colour}" opacity="0.5"><title>{label}</title></rect>')
    last_label: dict[str, tuple[int, int]] = {}   # lane -> (x of its last label, its row)
    for m in tl.marks:
        x, y = left + m.t * step, y_of[m.lane]
        out.append(f'<circle cx="{x}" cy="{y}" r="5" fill="{_COLOURS[m.kind]}">'
                   f'<title>t={m.t} {_escape(m.what)}</title></circle>')
        tag = _TAGS.get(m.kind)
        if tag is not None and (m.kind != "frame" or "shown" in m.what):
            label = tag + (m.what.split()[1] if m.kind == "frame" else "")
            # Neighbouring labels would overprint: drop every other one a row lower.
            prev_x, prev_row = last_label.get(m.lane, (-1000, 1))
            row = 1 - prev_row if x - prev_x < 6 * len(label) + 4 else 0
            last_label[m.lane] = (x, row)
            out.append(f'<text x="{x - 6}" y="{y + 17 + 10 * row}" font-size="9" '
                       f'fill="{_COLOURS[m.kind]}">{label}</text>')
    for i, (kind, colour) in enumerate(_COLOURS.items()):
        x = left + i * 110
        out.append(f'<circle cx="{x}" cy="{height - 14}" r="5" fill="{colour}"/>'
                   f'<text x="{x + 9}" y="{height - 10}">{kind}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- the renderer's side: drawing, submitting, looking ---------------------------------------
def draw(frame: int) -> bytes:
    """Frame ``frame``: a dark background with a bright bar that moves right each frame."""
    img = np.full((H, W), 0xFF202020, dtype="<u4")
    x = (frame * 40) % (W - 32)
    img[:, x:x + 32] = 0xFF40C0FF
    return img.tobytes()


def ascii_row(screen: bytes) -> str:
    """One row of the screen as 64 characters: where the bar is."""
    row = np.frombuffer(screen, dtype="<u4", count=W)[::4]
    return "".join("#" if v == 0xFF40C0FF else "." for v in row)


class Renderer:
    """The process's drawing loop: two userptr frame buffers and a GEM screen."""

    def __init__(self, proc: Process) -> None:
        self.proc = proc
        self.fd = igt.drm_open_driver(proc)
        self.buffers = [proc.mmap(0, SIZE, RW, ANON) for _ in range(2)]
        self.handles = [igt.gem_userptr(proc, self.fd, b, SIZE) for b in self.buffers]
        self.screen = igt.gem_create(proc, self.fd, SIZE)
        self.view = igt.gem_mmap__wc(proc, self.fd, self.screen, SIZE, PROT_READ)
        self.batch = igt.gem_create(proc, self.fd, 4096)
        self.scratch = proc.mmap(0, 4096, RW, ANON)
        self.retries = 0

    def present(self, which: int) -> int:
        """Blit buffer ``which`` to the screen and wait for the out-fence; the fence status."""
        words = xy_src_copy_blt(SCREEN_AT, PITCH, 0, 0, BUFFER_AT[which], PITCH, 0, 0, W, H)
        words += [MI_BATCH_BUFFER_END, MI_NOOP]
        igt.gem_write(self.proc, self.fd, self.batch, 0,
                      np.array(words, dtype="<u4").tobytes())
        objs = (uapi.drm_i915_gem_exec_object2 * 3)(
            uapi.drm_i915_gem_exec_object2(handle=self.screen, offset=SCREEN_AT,
                                           flags=PINNED | uapi.EXEC_OBJECT_WRITE),
            uapi.drm_i915_gem_exec_object2(handle=self.handles[which],
                                           offset=BUFFER_AT[which], flags=PINNED),
            uapi.drm_i915_gem_exec_object2(handle=self.batch, offset=BATCH_AT, flags=PINNED))
        self.proc.write(self.scratch, bytes(objs))
        eb = uapi.drm_i915_gem_execbuffer2(
            buffers_ptr=self.scratch, buffer_count=3,
            flags=uapi.I915_EXEC_BLT | uapi.I915_EXEC_NO_RELOC | uapi.I915_EXEC_FENCE_OUT)
        while True:                      # drmIoctl: EAGAIN means "try again"
            try:
                self.proc.ioctl(self.fd, uapi.DRM_IOCTL_I915_GEM_EXECBUFFER2_WR, eb)
                break
            except OSError as err:
                if err.errno != errno.EAGAIN:
                    raise
                self.retries += 1
        fence_fd = int(eb.rsvd2) >> 32
        sync_file: Any = self.proc.file(fence_fd)
        sync_file.wait(None)
        status = int(sync_file.status())
        self.proc.close(fence_fd)
        return status

    def look(self) -> str:
        return ascii_row(self.proc.read(self.view, PITCH))


def _renderer_scene(n: Narrator, machine: Machine) -> None:
    gpu = attach(machine.device)
    n.scene("12. A software renderer streams frames through the GPU",
            "A process draws frames with the CPU into two buffers of its own memory, wraps "
            "them in userptrs once, and lets the blitter copy each finished frame into a GEM "
            "'screen' it watches through a WC mapping. No copy is made at creation: each "
            "blit reads the process's pages through the GPU's page tables.")
    tl = Timeline()
    unsubscribe = trace.subscribe(tl.on_event)
    r = Renderer(machine.spawn("renderer"))
    try:
        for frame in range(FRAMES):
            _one_frame(n, machine, r, tl, frame)
    finally:
        unsubscribe()
        machine.device.faults.set_hook("execbuf.before_submit_done", None)
    n.say(f"{FRAMES} frames shown, {r.retries} EAGAIN retr{'y' if r.retries == 1 else 'ies'}")
    n.console.print(tl.table())
    if _timeline_path is not None:
        with open(_timeline_path, "w", encoding="utf-8") as out:
            out.write(timeline_svg(tl))
        n.say(f"timeline picture written to {_timeline_path}")
    r.proc.exit()
    for engine in list(gpu.engines.values()):
        engine.fini()                    # let the GPU go quiet before the leak check
    gpu.reap(wait=True)


def _one_frame(n: Narrator, machine: Machine, r: Renderer, tl: Timeline, frame: int) -> None:
    which = frame % 2
    if frame == 2:
        n.say("The renderer reallocates buffer 0: mmap(MAP_FIXED) of fresh memory over it. "
              "The notifier only records the invalidation; the next blit revalidates (unbind, "
              "unpin the old pages, pin the new ones).")
        r.proc.mmap(r.buffers[0], SIZE, RW, ANON | MAP_FIXED)
    if frame == 3:
        n.say("While frame 3 is being submitted, another thread mprotects the buffer: the "
              "invalidation lands between submit_init and submit_done, so the request is "
              "skipped and the ioctl answers EAGAIN; libdrm's loop submits again.")
        _collide_once(machine, r)
    r.proc.write(r.buffers[which], draw(frame))
    tl.frame(f"frame {frame} drawn in buffer {which}")
    status = r.present(which)
    tl.frame(f"frame {frame} shown (fence status {status})")
    n.say(f"frame {frame}: screen |{r.look()}|")


def _collide_once(machine: Machine, r: Renderer) -> None:
    ptr = r.buffers[1]
    fired: list[bool] = []

    def hook(*_: object) -> None:
        if not fired:
            fired.append(True)
            r.proc.mprotect(ptr, 4096, PROT_READ)
            r.proc.mprotect(ptr, 4096, RW)

    machine.device.faults.set_hook("execbuf.before_submit_done", hook)


GPU_SCENES: list[Callable[[Narrator, Machine], None]] = [_renderer_scene]
