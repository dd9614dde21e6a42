"""One Engine / InferenceSession shared by many threads gives each caller its own, right answer;
StreamPool bounds concurrent runs to its streams and splits the cores between them."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from sparse_runtime import Engine
from sparse_runtime.engine.streams import StreamPool, available_cores, threads_per_stream
from sparse_runtime.models import mlp

THREADS, RUNS = 16, 12


@pytest.fixture(scope="module")
def model():
    return mlp(hidden=48, ffn=192, tokens=4, sparsity=0.8, symbolic=True)


def _inputs(k, j):
    rows = 1 + (k + j) % 5  # different shapes at once: no state may leak between runs
    return np.random.default_rng(1000 * k + j).standard_normal((rows, 48)).astype(np.float32)


def _hammer(run):
    """THREADS threads x RUNS runs, all released at once; returns {(k, j): (x, y)} and errors."""
    results, errors = {}, []
    start = threading.Barrier(THREADS)

    def worker(k):
        start.wait()
        try:
            for j in range(RUNS):
                x = _inputs(k, j)
                results[(k, j)] = (x, run(x))
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    assert len(results) == THREADS * RUNS
    return results


def _check_against_serial(results, reference):
    for x, y in results.values():
        np.testing.assert_allclose(y, reference(x), rtol=1e-5, atol=1e-5)


def test_engine_shared_by_threads(model):
    eng = Engine(model)
    serial = Engine(model)
    _check_against_serial(_hammer(lambda x: eng.run([x])[0]), lambda x: serial.run([x])[0])


def test_inference_session_shared_by_threads(model):
    import sparse_runtime as ort

    sess = ort.InferenceSession(model.SerializeToString())
    serial = Engine(model)
    _check_against_serial(_hammer(lambda x: sess.run(None, {"x": x})[0]), lambda x: serial.run([x])[0])


@pytest.mark.parametrize("streams", [1, 2])
def test_stream_pool_bounds_concurrency(model, streams):
    if streams > available_cores():
        pytest.skip(f"{streams} streams need {streams} cores")
    pool = StreamPool(model, streams=streams)
    assert pool.threads_per_stream == available_cores() // streams
    serial = Engine(model)
    _check_against_serial(_hammer(lambda x: pool.run([x])[0]), lambda x: serial.run([x])[0])
    assert 1 <= pool.max_busy <= streams and pool.busy == 0


def test_session_streams_option(model):
    import sparse_runtime as ort

    sess = ort.InferenceSession(model.SerializeToString(), streams=1)
    _check_against_serial(_hammer(lambda x: sess.run(["y"], {"x": x})[0]), lambda x: Engine(model).run([x])[0])
    assert sess._pool.max_busy == 1


def test_threads_per_stream_never_oversubscribes():
    assert threads_per_stream(1, cores=16) == 16
    assert threads_per_stream(3, cores=16) == 5
    assert threads_per_stream(16, cores=16) == 1
    for n in range(1, 17):  # the pool owner's threads plus one inline caller per other stream
        assert threads_per_stream(n, cores=16) + (n - 1) <= 16
    with pytest.raises(ValueError, match="exceeds the 4 core"):
        threads_per_stream(5, cores=4)
    with pytest.raises(ValueError, match="positive int"):
        threads_per_stream(0, cores=4)
