"""A small, bounded version of benchmarks/serve_load.py: 200 requests from 8 clients, zero errors,
every answer checked against Engine.run. Throughput is printed, not asserted (it is the machine's)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("tritonclient.http")


@pytest.mark.parametrize("batching", [False, True], ids=["batching-off", "batching-on"])
def test_load_zero_errors(mlp_path, engine, load_tools, batching):
    args = ["--max-batch", 8, "--batch-timeout-ms", 2] if batching else []

    def check(x, y):
        np.testing.assert_allclose(y, engine.run([x])[0], rtol=1e-5, atol=1e-5)

    with load_tools.start_server(mlp_path, *args, name="mlp") as (address, _):
        r = load_tools.run_load(address, "mlp", shape=(2, 64), requests=200, clients=8, timeout=20,
                                deadline=60, check=check)
    print(f"\n{'batching on' if batching else 'batching off'}: {r}")
    assert r["errors"] == 0, r["first_errors"]
    assert r["ok"] == 200
