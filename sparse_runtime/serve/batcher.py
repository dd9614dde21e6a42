"""Dynamic batching: concurrent requests merged along dim 0, run once, split back.

A batch is formed only when a stream is free (as Triton's scheduler does): while every stream is
busy, requests pile up and the next batch takes them at once instead of closing early, half
empty. Once a stream is free the batcher takes what is queued and waits at most ``timeout_s`` for
more, up to ``max_batch`` rows. Requests merge only with requests of the same dims past dim 0 and
the same dtypes; a request of ``max_batch`` rows or more runs alone.
"""
from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)


class BatchSplitError(RuntimeError):
    """An output's dim 0 is not the merged batch: the model does not batch along dim 0."""


@dataclass
class _Item:
    feeds: list
    rows: int
    key: tuple
    future: asyncio.Future


class DynamicBatcher:
    """``run(feeds) -> outputs`` is synchronous and runs on ``executor`` (one worker per stream);
    ``on_batch(rows)`` is called once per execution (for metrics)."""

    def __init__(self, run, executor, max_batch: int, timeout_s: float, streams: int, on_batch=None):
        self._run = run
        self._executor = executor
        self.max_batch = int(max_batch)
        self.timeout_s = float(timeout_s)
        self._streams = int(streams)
        self._on_batch = on_batch
        self._pending = collections.deque()
        self._wakeup = None  # asyncio objects are made on first use, inside the server's loop
        self._slots = None
        self._task = None

    async def submit(self, feeds: list) -> list:
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._wakeup = asyncio.Event()
            self._slots = asyncio.Semaphore(self._streams)
            self._task = loop.create_task(self._collect())
        key = tuple((a.shape[1:], a.dtype.str) for a in feeds)
        rows = {a.shape[0] for a in feeds}
        item = _Item(feeds, rows.pop() if len(rows) == 1 else -1, key, loop.create_future())
        if item.rows < 0:
            item.rows = self.max_batch  # inputs disagree on dim 0: run alone, the engine will say why
        self._pending.append(item)
        self._wakeup.set()
        return await item.future

    def _take(self, key, room) -> list:
        """Queued items with ``key`` that fit in ``room`` rows, in arrival order."""
        taken, keep = [], collections.deque()
        while self._pending:
            it = self._pending.popleft()
            if it.future.done():  # the client went away
                continue
            if it.key == key and it.rows <= room:
                taken.append(it)
                room -= it.rows
            else:
                keep.append(it)
        self._pending = keep
        return taken

    async def _collect(self):
        loop = asyncio.get_running_loop()
        while True:
            await self._slots.acquire()
            while not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            first = self._pending.popleft()
            if first.future.done():
                self._slots.release()
                continue
            batch, rows = [first], first.rows
            deadline = loop.time() + self.timeout_s
            while rows < self.max_batch:
                more = self._take(first.key, self.max_batch - rows)
                batch += more
                rows += sum(it.rows for it in more)
                remaining = deadline - loop.time()
                if rows >= self.max_batch or remaining <= 0:
                    break
                self._wakeup.clear()
                try:  # waiting on an Event (not on a queue) so a timeout can never drop a request
                    await asyncio.wait_for(self._wakeup.wait(), remaining)
                except asyncio.TimeoutError:
                    pass
            loop.create_task(self._execute(batch, rows))

    async def _execute(self, batch, rows):
        loop = asyncio.get_running_loop()
        try:
            if len(batch) == 1:
                results = [await loop.run_in_executor(self._executor, self._run, batch[0].feeds)]
            else:
                merged = [np.concatenate([it.feeds[i] for it in batch]) for i in range(len(batch[0].feeds))]
                outs = await loop.run_in_executor(self._executor, self._run, merged)
                try:
                    results = _split(outs, [it.rows for it in batch], rows)
                except BatchSplitError as e:
                    log.warning("dynamic batching turned off: %s", e)
                    self.max_batch = 1  # from now on every request runs alone
                    # these run again, alone, first in line, so each still gets its own answer
                    self._pending.extendleft(reversed(batch))
                    self._wakeup.set()
                    return
            if self._on_batch is not None:
                self._on_batch(rows)
            for it, res in zip(batch, results):
                if not it.future.done():
                    it.future.set_result(res)
        except Exception as e:
            for it in batch:
                if not it.future.done():
                    it.future.set_exception(e)
        finally:
            self._slots.release()


def _split(outs, sizes, total):
    for o in outs:
        if o.ndim == 0 or o.shape[0] != total:
            raise BatchSplitError(f"an output of shape {o.shape} does not have the merged batch "
                                  f"({total} rows) as dim 0; the model cannot be batched along dim 0")
    bounds = np.cumsum(sizes)[:-1]
    per_output = [np.split(o, bounds) for o in outs]
    return [[parts[i] for parts in per_output] for i in range(len(sizes))]
