"""Imports go downward only (design.md, "Layers")."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "softgem"

RANK = {
    "errors": 0, "units": 0, "posix": 0, "sync": 0, "trace": 0, "abi": 0,
    "mm": 1,
    "notifier": 2,
    "gem": 3,
    "gpu": 4,
    "uapi": 5,
    "machine": 6, "host": 6,
    "cli": 7, "bench": 7, "igt": 7, "scenarios": 7, "fuzz": 7,
}
BASE = {"errors", "units", "posix", "sync", "trace"}


def _package_of(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0].removesuffix(".py") if rel.parts[0] != "__init__.py" else "__init__"


def _imported_packages(path: pathlib.Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    own_depth = len(path.relative_to(ROOT).parts) - 1  # directories below softgem/
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "softgem" and len(parts) > 1:
                    found.append((node.lineno, parts[1]))
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] != "softgem":
                    continue
                rest = parts[1:]
            else:
                up = node.level - 1
                if up > own_depth:
                    continue
                base = list(path.relative_to(ROOT).parts[:-1])
                base = base[: len(base) - up] if up else base
                rest = base + (node.module.split(".") if node.module else [])
            if rest:
                found.append((node.lineno, rest[0].removesuffix(".py")))
            else:  # "from .. import x" at the root: x names the package
                found.extend((node.lineno, a.name) for a in node.names)
    return found


def _modules() -> list[pathlib.Path]:
    return sorted(p for p in ROOT.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_downward_only(path: pathlib.Path) -> None:
    own = _package_of(path)
    if own == "__init__":
        return  # the package root re-exports the public API
    bad = []
    for lineno, target in _imported_packages(path):
        if target == own or (target not in RANK and target != "explore"):
            continue
        if own == "explore":
            if target not in BASE:
                bad.append(f"line {lineno}: explore may import only the base, not {target}")
            continue
        if target == "explore":
            if own not in ("cli", "bench", "scenarios"):
                bad.append(f"line {lineno}: only the top layer imports explore")
            continue
        if RANK[target] > RANK[own] or (RANK[target] == RANK[own] and own not in BASE
                                        and RANK[own] < 6):
            bad.append(f"line {lineno}: {own} (rank {RANK[own]}) imports {target} "
                       f"(rank {RANK[target]})")
    assert not bad, "\n".join(bad)


PACKAGES = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}

# Modules that still reach into another package's modules, each with what is missing.  The
# list only shrinks: a module that no longer needs its entry fails the test below.
THROUGH_INIT_PENDING: dict[str, str] = {
    "bench/host_floor.py": "softgem.host does not export its listener/seccomp/procmem names",
    "bench/host_ioctl.py": "softgem.host does not export CoreBackend, Listener, trap_filter, NR",
    "host/backend.py": "imports mm.notify names that softgem.mm exports",
    "host/core.py": "softgem.uapi does not export the table's dispatch",
    "host/fake.py": "imports mm.notify names that softgem.mm exports",
    "host/hostmm.py": "imports mm.notify names that softgem.mm exports",
    "host/mmcalls.py": "imports mm.notify names that softgem.mm exports",
}


def _deep_imports(path: pathlib.Path) -> list[str]:
    """Imports of another package's module (``from ..gem.object import X``) in ``path``."""
    rel = path.relative_to(ROOT)
    own = rel.parts[0].removesuffix(".py")
    bad = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name.split(".")[1:] for a in node.names
                       if a.name.split(".")[0] == "softgem"]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                targets = [parts[1:]] if parts[0] == "softgem" else []
            elif node.level - 1 > len(rel.parts) - 1:
                targets = []
            else:
                base = list(rel.parts[:-1])
                base = base[: len(base) - (node.level - 1)]
                targets = [base + (node.module.split(".") if node.module else [])]
        else:
            continue
        if (str(rel) == "uapi/__init__.py" and isinstance(node, ast.ImportFrom)
                and [a.name for a in node.names] == ["*"]):
            continue      # the public front door re-exports softgem.abi's header modules
        for rest in targets:
            if len(rest) >= 2 and rest[0] in PACKAGES and rest[0] != own:
                bad.append(f"line {node.lineno}: softgem.{'.'.join(rest)}")
    return bad


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_another_package_is_imported_only_through_its_init(path: pathlib.Path) -> None:
    rel = str(path.relative_to(ROOT))
    bad = _deep_imports(path)
    if rel in THROUGH_INIT_PENDING:
        assert bad, f"{rel} imports through __init__ now: drop it from THROUGH_INIT_PENDING"
        return
    assert not bad, "import these from the package, not its module:\n" + "\n".join(bad)


def test_the_init_checker_catches_a_deep_import() -> None:
    fake = ROOT / "gpu" / "_layer_probe_tmp2.py"
    fake.write_text("from ..gem.object import GemObject\nfrom ..gem import DrmFile\n"
                    "from .vm import AddressSpace\nimport softgem.mm.vma\n")
    try:
        found = _deep_imports(fake)
    finally:
        fake.unlink()
    assert found == ["line 1: softgem.gem.object", "line 4: softgem.mm.vma"]


def test_the_layer_checker_catches_an_upward_import(tmp_path: pathlib.Path) -> None:
    fake = ROOT / "mm" / "_layer_probe_tmp.py"
    fake.write_text("from ..gem import something\n")
    try:
        found = _imported_packages(fake)
    finally:
        fake.unlink()
    assert (1, "gem") in found


def test_test_module_basenames_are_unique() -> None:
    """Tests import as top-level modules (pytest's prepend mode, so sibling helpers such as
    ``mmtest`` import); two test files with one basename would shadow each other."""
    tests = pathlib.Path(__file__).resolve().parent
    seen: dict[str, pathlib.Path] = {}
    clashes = []
    for path in sorted(tests.rglob("*.py")):
        if path.name == "conftest.py":
            continue
        if path.name in seen:
            clashes.append(f"{seen[path.name]} and {path}")
        seen[path.name] = path
    assert not clashes, "rename one of: " + "; ".join(clashes)
