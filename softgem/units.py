"""Page arithmetic and the address types that keep CPU, GPU and frame numbers apart.

``VirtAddr`` is a CPU virtual address in some process, ``GpuAddr`` an address in a GPU
address space, ``Pfn`` a physical page frame number.  They are ``NewType``s over ``int``:
free at run time, but mypy refuses to pass one where another is expected.
"""

from __future__ import annotations

from typing import NewType

__all__ = [
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "PAGE_MASK",
    "TASK_SIZE",
    "VirtAddr",
    "GpuAddr",
    "Pfn",
    "page_align",
    "page_align_down",
    "is_page_aligned",
    "nr_pages",
    "vpn",
    "page_offset",
    "ranges_overlap",
]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = ~(PAGE_SIZE - 1)

# x86-64 with 4-level page tables: user addresses are [0, TASK_SIZE).
TASK_SIZE = (1 << 47) - PAGE_SIZE

VirtAddr = NewType("VirtAddr", int)
GpuAddr = NewType("GpuAddr", int)
Pfn = NewType("Pfn", int)


def page_align(n: int) -> int:
    """Round up to a page boundary."""
    return (n + PAGE_SIZE - 1) & PAGE_MASK


def page_align_down(n: int) -> int:
    return n & PAGE_MASK


def is_page_aligned(n: int) -> bool:
    return n & (PAGE_SIZE - 1) == 0


def nr_pages(length: int) -> int:
    """How many pages ``length`` bytes span when starting page aligned."""
    return (length + PAGE_SIZE - 1) >> PAGE_SHIFT


def vpn(addr: int) -> int:
    """Virtual page number of an address."""
    return addr >> PAGE_SHIFT


def page_offset(addr: int) -> int:
    return addr & (PAGE_SIZE - 1)


def ranges_overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    """Whether half-open ranges ``[a_start, a_end)`` and ``[b_start, b_end)`` overlap."""
    return a_start < b_end and b_start < a_end
