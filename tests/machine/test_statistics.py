"""Typed statistics records: the notifier subscriptions, the GEM device and the GPU each report
what they hold as a frozen dataclass, and ``Machine.counters()`` is built from them alone."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import softgem
from softgem import igt, uapi
from softgem.gem import GemStatistics
from softgem.gpu import GpuStatistics
from softgem.notifier import MmuNotifierSubscriptions, SubscriptionStatistics
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE


def test_each_layer_reports_a_typed_record_and_the_counters_follow_them() -> None:
    machine = softgem.Machine(memory=32 << 20)
    proc = machine.spawn()
    fd = igt.drm_open_driver(proc)
    buf = proc.mmap(0, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    up = igt.gem_userptr(proc, fd, buf, 1 << 16)
    igt.gem_set_domain(proc, fd, up, uapi.I915_GEM_DOMAIN_CPU, 0)
    bo = igt.gem_create(proc, fd, 4096)
    igt.gem_mmap_offset(proc, fd, bo, uapi.I915_MMAP_OFFSET_WB)

    subs = proc.mm.notifier_subscriptions
    assert isinstance(subs, MmuNotifierSubscriptions)
    s = subs.statistics()
    assert isinstance(s, SubscriptionStatistics)
    assert (s.interval_notifiers, s.notifiers, s.registrations) == (1, 0, 1)
    d = machine.device.statistics()
    assert isinstance(d, GemStatistics)
    assert (d.objects, d.handles, d.offset_nodes, d.files) == (2, 2, 1, 1)
    gpu = machine.device.gpu
    assert gpu is not None
    g = gpu.statistics()              # type: ignore[attr-defined]
    assert isinstance(g, GpuStatistics) and g.resets == 0 and not g.wedged
    for record in (s, d, g):
        assert dataclasses.is_dataclass(record)
        with_field = dataclasses.fields(record)[0].name
        try:
            setattr(record, with_field, 0)
        except dataclasses.FrozenInstanceError:
            pass
        else:
            raise AssertionError(f"{type(record).__name__} is not frozen")

    c = machine.counters()
    assert (c.objects, c.handles, c.offset_nodes, c.notifier_registrations) == (2, 2, 1, 1)
    proc.exit()
    assert machine.counters().leaks() == {}
    assert subs.statistics().registrations == 0
    machine.shutdown()


def test_the_code_speaks_of_itself_not_of_how_it_was_written() -> None:
    root = Path(softgem.__file__).parent
    notes = re.compile(r"helper [A-Z]\b|\bthe lead\b|asked of|\binterim\b", re.IGNORECASE)
    found = [f"{p.relative_to(root)}:{n}: {line.strip()}"
             for p in sorted(root.rglob("*.py")) if "host" not in p.parts
             for n, line in enumerate(p.read_text().splitlines(), 1) if notes.search(line)]
    assert found == []
