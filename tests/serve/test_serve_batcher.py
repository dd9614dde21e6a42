"""Dynamic batcher and batch-dim detection, in-process (asyncio and numpy only, no web stack)."""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from sparse_runtime.ir import Graph, ValueInfo
from sparse_runtime.serve.batcher import DynamicBatcher
from sparse_runtime.serve.model import batch_dim


def _graph(ins, outs):
    f32 = np.dtype(np.float32)
    return Graph(inputs=[ValueInfo(f"i{k}", f32, s) for k, s in enumerate(ins)],
                 outputs=[ValueInfo(f"o{k}", f32, s) for k, s in enumerate(outs)])


@pytest.mark.parametrize("ins,outs,ok", [
    ([("N", 4)], [("N", 2)], True),
    ([("N", 4), ("N", 3)], [("N",), (None, 2)], True),
    ([(1, 4)], [(1, 2)], False),          # fixed batch
    ([("N", 4)], [(3,)], False),          # an output without the batch
    ([("N", 4), ("M", 4)], [("N",)], False),  # two different symbols
    ([()], [("N",)], False),              # a scalar input
    ([None], [("N",)], False),            # unknown rank
])
def test_batch_dim(ins, outs, ok):
    assert (batch_dim(_graph(ins, outs)) is None) is ok


class _Model:
    """y = 2 * x0 + x1, row by row: an answer holding another request's rows would show."""

    def __init__(self, reduce=False, delay=0.002):
        self.calls, self.reduce, self.delay = [], reduce, delay
        self._lock = threading.Lock()

    def __call__(self, feeds):
        time.sleep(self.delay)  # long enough for requests to pile up behind a busy stream
        with self._lock:
            self.calls.append(feeds[0].shape[0])
        x = feeds[0]
        if self.reduce:  # not batchable: the output loses dim 0
            return [x.sum(axis=0)]
        return [x * 2 + feeds[1]]


def _run(model, requests, max_batch=8, streams=1):
    async def main():
        with ThreadPoolExecutor(streams) as ex:
            b = DynamicBatcher(model, ex, max_batch=max_batch, timeout_s=0.005, streams=streams)
            return b, await asyncio.gather(*(b.submit(r) for r in requests))
    return asyncio.run(main())


def _requests(n, width=3):
    rng = np.random.default_rng(0)
    return [[rng.standard_normal((1 + k % 3, width)).astype(np.float32),
             rng.standard_normal((1 + k % 3, width)).astype(np.float32)] for k in range(n)]


def test_merges_and_splits_in_order():
    reqs = _requests(24)
    model = _Model()
    _, outs = _run(model, reqs)
    for r, o in zip(reqs, outs):
        np.testing.assert_array_equal(o[0], r[0] * 2 + r[1])
    assert sum(model.calls) == sum(r[0].shape[0] for r in reqs)
    assert len(model.calls) < len(reqs) and max(model.calls) <= 8


def test_different_trailing_dims_do_not_merge():
    reqs = _requests(6, width=3) + _requests(6, width=5)
    model = _Model()
    _, outs = _run(model, reqs, max_batch=64)
    for r, o in zip(reqs, outs):
        np.testing.assert_array_equal(o[0], r[0] * 2 + r[1])


def test_request_larger_than_max_batch_runs_alone():
    big = [np.ones((20, 3), np.float32), np.zeros((20, 3), np.float32)]
    model = _Model()
    _, outs = _run(model, [big] + _requests(4), max_batch=8)
    np.testing.assert_array_equal(outs[0][0], big[0] * 2)
    assert 20 in model.calls


def test_unbatchable_output_falls_back_to_single_requests():
    reqs = _requests(8)
    model = _Model(reduce=True)
    batcher, outs = _run(model, reqs)
    for r, o in zip(reqs, outs):  # each answer is its own request's, not the batch's
        np.testing.assert_allclose(o[0], r[0].sum(axis=0), rtol=1e-6)
    assert batcher.max_batch == 1


def test_errors_reach_every_request_of_the_batch():
    def broken(feeds):
        raise RuntimeError("kernel exploded")

    async def main():
        with ThreadPoolExecutor(1) as ex:
            b = DynamicBatcher(broken, ex, max_batch=8, timeout_s=0.005, streams=1)
            return await asyncio.gather(*(b.submit(r) for r in _requests(5)), return_exceptions=True)

    results = asyncio.run(main())
    assert all(isinstance(r, RuntimeError) and "exploded" in str(r) for r in results)
