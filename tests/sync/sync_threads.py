"""Real threads for the sync tests, whose failures are never lost."""

from __future__ import annotations

import threading
from collections.abc import Callable

JOIN_TIMEOUT = 20.0     # a liveness bound (a hung thread fails the test), not a speed claim


class Threads:
    """Start named threads; ``join()`` waits for all and re-raises the first failure."""

    def __init__(self) -> None:
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, fn: Callable[[], object], name: str | None = None) -> threading.Thread:
        def body() -> None:
            try:
                fn()
            except BaseException as exc:
                self.errors.append(exc)

        t = threading.Thread(target=body, name=name, daemon=True)
        self._threads.append(t)
        t.start()
        return t

    def run(self, fn: Callable[[], object], name: str | None = None) -> None:
        """Run ``fn`` in a thread of its own, to completion."""
        t = self.start(fn, name)
        t.join(JOIN_TIMEOUT)
        assert not t.is_alive(), f"thread {name} hung"
        self._raise()

    def join(self) -> None:
        for t in self._threads:
            t.join(JOIN_TIMEOUT)
            assert not t.is_alive(), f"thread {t.name} hung"
        self._raise()

    def _raise(self) -> None:
        if self.errors:
            raise self.errors[0]
