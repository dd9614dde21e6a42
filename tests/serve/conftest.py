"""tests/serve: sparse-serve as a subprocess on a free loopback port, driven by tritonclient.

Every test module starts with pytest.importorskip of starlette, uvicorn and tritonclient.http, so
the suite skips cleanly without the serve extra or tritonclient[http].
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

try:
    import sparse_runtime  # noqa: F401
except ImportError:  # bare `pytest` from a checkout without the package installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

_path = Path(__file__).resolve().parents[2] / "benchmarks" / "serve_load.py"
_spec = importlib.util.spec_from_file_location("benchmarks_serve_load", _path)
serve_load = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(serve_load)

HIDDEN = 64


@pytest.fixture(scope="session")
def load_tools():
    """benchmarks/serve_load.py: start_server, run_load."""
    return serve_load


@pytest.fixture(scope="session")
def mlp_path(tmp_path_factory):
    """FFN block x[tokens, 64] -> y[tokens, 64], 'tokens' symbolic (so requests can be batched)."""
    import onnx

    from sparse_runtime.models import mlp

    path = tmp_path_factory.mktemp("serve") / "mlp.onnx"
    onnx.save(mlp(hidden=HIDDEN, ffn=256, tokens=4, sparsity=0.9, symbolic=True), path)
    return path


@pytest.fixture(scope="session")
def engine(mlp_path):
    from sparse_runtime import Engine

    return Engine(mlp_path)


@pytest.fixture(scope="module")
def server(mlp_path):
    """Plain server: one stream, no batching; 1 MiB body limit to test 413 cheaply."""
    with serve_load.start_server(mlp_path, "--max-body-mb", 1, name="mlp") as (address, proc):
        yield address, proc


@pytest.fixture(scope="module")
def batching_server(mlp_path):
    with serve_load.start_server(mlp_path, "--max-batch", 16, "--batch-timeout-ms", 5,
                                 name="mlp") as (address, proc):
        yield address, proc


@pytest.fixture
def client(server):
    import tritonclient.http as httpclient

    c = httpclient.InferenceServerClient(server[0], network_timeout=30)
    yield c
    c.close()
