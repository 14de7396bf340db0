"""The worker pool: one receiver at a time, inline serving, takeover when a call stalls."""

from __future__ import annotations

import threading

from softgem.host.workers import WorkerPool


class FakeListener:
    """A queue of items with the listener's contract: ``wait`` blocks until an item is
    pending or the end; ``recv`` must never be entered by two threads at once."""

    def __init__(self) -> None:
        self.cv = threading.Condition()
        self.items: list[str] = []
        self.closed = False
        self.receiving = 0
        self.overlaps = 0

    def put(self, *items: str) -> None:
        with self.cv:
            self.items.extend(items)
            self.cv.notify_all()

    def close(self) -> None:
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def wait(self) -> bool:
        with self.cv:
            self.cv.wait_for(lambda: self.items or self.closed)
            return bool(self.items)

    def recv(self) -> str | None:
        with self.cv:
            self.receiving += 1
            self.overlaps += self.receiving > 1
        try:
            with self.cv:
                return self.items.pop(0) if self.items else None
        finally:
            with self.cv:
                self.receiving -= 1


def _pool(listener: FakeListener, serve, errors: list[str]) -> WorkerPool[str]:
    return WorkerPool(4, listener.wait, listener.recv, serve,
                      lambda where, exc: errors.append(f"{where}: {exc!r}"),
                      check_every=0.002)


def test_fast_calls_are_all_served_by_the_leader_without_switching_threads() -> None:
    listener, errors, served = FakeListener(), [], []
    pool = _pool(listener, lambda item: served.append(threading.current_thread().name),
                 errors)
    pool.start()
    listener.put(*(f"call{i}" for i in range(50)))
    listener.close()
    pool.join()
    assert len(served) == 50
    assert set(served) == {"softgem-worker-0"}
    assert listener.overlaps == 0 and errors == []


def test_a_stalled_call_lets_another_worker_serve_the_next_ones() -> None:
    listener, errors = FakeListener(), []
    release = threading.Event()
    done: list[str] = []
    second_served = threading.Event()

    def serve(item: str) -> None:
        if item == "stall":
            release.wait(10)
        done.append(item)
        if item == "second":
            second_served.set()

    pool = _pool(listener, serve, errors)
    pool.start()
    listener.put("stall", "first", "second")
    assert second_served.wait(10), "nobody took over from the stalled leader"
    assert done == ["first", "second"]          # served while "stall" still blocks
    release.set()
    listener.close()
    pool.join()
    assert sorted(done) == ["first", "second", "stall"]
    assert listener.overlaps == 0 and errors == []


def test_an_exception_in_serve_is_reported_and_serving_goes_on() -> None:
    listener, errors, done = FakeListener(), [], []

    def serve(item: str) -> None:
        if item == "bad":
            raise ValueError("boom")
        done.append(item)

    pool = _pool(listener, serve, errors)
    pool.start()
    listener.put("bad", "good")
    listener.close()
    pool.join()
    assert done == ["good"]
    assert len(errors) == 1 and "boom" in errors[0]
