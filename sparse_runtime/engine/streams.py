"""Streams: run one compiled model for several concurrent callers without oversubscribing the CPU.

``StreamPool(model, streams=N)`` admits at most N runs at a time (a semaphore; a caller waits for
a free stream) and sizes the compute threads to ``cores // N`` per stream.

Why one compiled Engine and not N copies: ``Engine.run`` is reentrant. All per-run state lives in
the slot list the executor copies from ``plan.template``; kernels are pure closures over constants
(the op contract: never mutate inputs, return new arrays), so N streams share the packed weights
instead of holding N copies. tests/engine/test_engine_concurrency.py guards this.

Why ``cores // N`` is a bound and not a split: the native thread pool is one per process and runs
one parallel job at a time; a second stream's job runs inline on its calling thread. With the pool
sized ``cores // N``, N busy streams use at most ``cores // N + (N - 1) <= cores`` threads. numpy's
BLAS pool (used by the ops that are not lowered) is limited to the same ``cores // N`` when
threadpoolctl is installed.
"""
from __future__ import annotations

import contextlib
import os
import threading

from .session import Engine


def available_cores() -> int:
    """CPUs this process may run on (affinity / cgroup cpusets), not the machine's total."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_per_stream(streams: int, cores: int | None = None) -> int:
    cores = available_cores() if cores is None else int(cores)
    if isinstance(streams, bool) or not isinstance(streams, int) or streams < 1:
        raise ValueError(f"streams must be a positive int, got {streams!r}")
    if streams > cores:
        raise ValueError(f"streams={streams} exceeds the {cores} core(s) available: every stream "
                         "needs at least one core")
    return cores // streams


def limit_blas_threads(threads: int) -> bool:
    """Cap numpy's BLAS pool (process-wide). Returns False when threadpoolctl is not installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    threadpool_limits(limits=int(threads), user_api="blas")
    return True


class StreamPool:
    """``streams`` concurrent runs over one compiled :class:`Engine`.

    ``cores``: how many cores to split (default: all this process may use). Extra keyword
    arguments go to ``Engine`` (``batch_size``, ``debug``, ``options``).
    """

    def __init__(self, model, streams: int = 1, cores: int | None = None, **engine_kwargs):
        if "threads" in engine_kwargs:
            raise TypeError("StreamPool sizes threads itself (cores // streams); pass cores= instead")
        self.streams = streams
        self.threads_per_stream = threads_per_stream(streams, cores)
        if streams > 1:  # one stream: BLAS and the native pool take turns, all cores each is fine
            limit_blas_threads(self.threads_per_stream)
        self.engine = Engine(model, threads=self.threads_per_stream, **engine_kwargs)
        self._free = threading.BoundedSemaphore(streams)
        self._lock = threading.Lock()
        self.busy = 0  # runs in flight now; max_busy: the most ever seen (tests check <= streams)
        self.max_busy = 0

    @contextlib.contextmanager
    def stream(self):
        """Hold a free stream (waiting for one) for the duration of a ``with`` block."""
        with self._free:
            with self._lock:
                self.busy += 1
                self.max_busy = max(self.max_busy, self.busy)
            try:
                yield self.engine
            finally:
                with self._lock:
                    self.busy -= 1

    def run(self, inputs) -> list:
        """Like ``Engine.run``; waits for a free stream first."""
        with self.stream() as engine:
            return engine.run(inputs)

    __call__ = run
