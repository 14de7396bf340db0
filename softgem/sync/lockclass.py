"""Lock classes: every lock instance belongs to one named class, as in lockdep."""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["LockClass", "lock_class"]


@dataclass(frozen=True, slots=True)
class LockClass:
    """A named class of locks (all ``Mutex("gem.object")`` instances share one class)."""

    name: str
    kind: str

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


_registry: dict[str, LockClass] = {}
_registry_lock = threading.Lock()


def lock_class(name: str, kind: str) -> LockClass:
    """The class called ``name``; a name may only ever be used with one lock kind."""
    with _registry_lock:
        cls = _registry.get(name)
        if cls is None:
            cls = LockClass(name, kind)
            _registry[name] = cls
        elif cls.kind != kind:
            from ..errors import SimBug

            raise SimBug(f"lock class {name!r} used as {kind} and as {cls.kind}")
        return cls
