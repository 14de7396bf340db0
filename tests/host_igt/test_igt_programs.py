"""Debian's unmodified IGT benchmarks under `softgem run`, with short arguments: each exits 0
and prints what a gen9 machine prints, figures aside (checked by pattern)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

BENCH = "/usr/libexec/igt-gpu-tools/benchmarks"
NUMBER = r"\s*\d+(\.\d+)?"
FIGURES = re.compile(rf"^({NUMBER}\n)+$")

#: program and arguments -> what its standard output must match
PROGRAMS: dict[tuple[str, ...], re.Pattern[str]] = {
    ("gem_blt", "-r", "1", "-b", "1"): FIGURES,
    ("gem_create", "-r", "1", "-s", "4096"): FIGURES,
    ("gem_exec_nop", "-r", "1"): FIGURES,
    ("gem_exec_reloc", "-r", "1", "-l", "1"): FIGURES,
    ("gem_exec_ctx", "-r", "1"): FIGURES,
    ("gem_prw", "-r", "1", "-D", "read", "-d", "cpu"): FIGURES,
    ("gem_prw", "-r", "1", "-D", "write", "-d", "cpu"): FIGURES,
    ("gem_prw", "-r", "1", "-D", "read", "-d", "gtt"): FIGURES,
    ("gem_prw", "-r", "1", "-D", "write", "-d", "gtt"): FIGURES,
    ("gem_set_domain", "-r", "1"): FIGURES,
    ("intel_upload_blit_small",): re.compile(r"^\d+ iterations in [\d.]+ secs: [\d.]+ MB/sec\n$"),
    ("intel_upload_blit_large",): re.compile(r"^\d+ iterations in [\d.]+ secs: [\d.]+ MB/sec\n$"),
    ("intel_upload_blit_large_gtt",): re.compile(
        r"^\d+ iterations in [\d.]+ secs: [\d.]+ MB/sec\n$"),
    ("intel_upload_blit_large_map",): re.compile(
        r"^\d+ iterations in [\d.]+ secs: [\d.]+ MB/sec\n$"),
}


@pytest.mark.parametrize("argv", list(PROGRAMS), ids=" ".join)
def test_igt_benchmark_runs_unmodified(argv: tuple[str, ...]) -> None:
    exe = os.path.join(BENCH, argv[0])
    assert os.access(exe, os.X_OK), "intel-gpu-tools is missing: run scripts/setup"
    proc = subprocess.run([sys.executable, "-m", "softgem.cli", "run", "--", exe, *argv[1:]],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert PROGRAMS[argv].search(proc.stdout), proc.stdout[-2000:]
    assert "softgem:" not in proc.stderr, proc.stderr[-2000:]
