"""sparse-bench, run as a subprocess (``python -m sparse_runtime.cli.bench``) on small generated
models: exit codes, printed fields, JSON export, one-line errors. The runs need the Engine."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sparse_runtime.cli.bench import BenchError, BenchResult, benchmark, make_inputs  # noqa: E402
from sparse_runtime.models import bert_encoder, mlp  # noqa: E402

FAST = ["-t", "0.3", "-w", "0.05"]
LATENCY_KEYS = {"mean", "median", "std", "min", "max", "p90", "p95", "p99"}
RESULT_KEYS = {"model", "batch_size", "threads", "isa", "iterations", "seconds", "items_per_second",
               "latency_ms", "warmup_iterations", "compile_seconds", "lowered_layers", "sparse_layers",
               "inputs", "notes"}


def bench(*args, timeout=240):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "sparse_runtime.cli.bench", *map(str, args)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)


def one_line_error(p):
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected a one-line error, got:\n{p.stderr}"
    assert lines[0].startswith("sparse-bench: error: ")
    assert "Traceback" not in p.stderr
    return lines[0]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench_models")
    paths = {
        "mlp": d / "mlp.onnx",
        "bert": d / "bert_static.onnx",
        "bert_sym": d / "bert_symbolic.onnx",
    }
    onnx.save(mlp(hidden=64, ffn=256, tokens=16, sparsity=0.9), paths["mlp"])
    onnx.save(bert_encoder(layers=1, hidden=64, heads=4, ffn=128, seq=16, batch=2, vocab=50), paths["bert"])
    onnx.save(bert_encoder(layers=1, hidden=64, heads=4, ffn=128, seq=16, vocab=50, symbolic=True), paths["bert_sym"])
    return paths


# ---- runs ----------------------------------------------------------------------------------------
def test_static_model_prints_and_exports(models, tmp_path):
    out = tmp_path / "r.json"
    p = bench(models["bert"], *FAST, "-x", out)
    assert p.returncode == 0, p.stderr
    for field in ("Model:", "Batch size:", "Threads:", "ISA:", "Throughput:", "items/s", "mean", "median",
                  "std", "p90", "p95", "p99", "Iterations:", "Sparse layers:"):
        assert field in p.stdout, field
    d = json.loads(out.read_text())
    assert RESULT_KEYS <= set(d)
    assert LATENCY_KEYS == set(d["latency_ms"])
    assert d["batch_size"] == 2 and d["iterations"] >= 1 and d["items_per_second"] > 0
    assert d["inputs"] == {"input_ids": {"shape": [2, 16], "dtype": "int64"},
                           "attention_mask": {"shape": [2, 16], "dtype": "int64"}}
    lat = d["latency_ms"]
    assert lat["min"] <= lat["median"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    assert d["items_per_second"] == pytest.approx(d["batch_size"] * d["iterations"] / d["seconds"], rel=1e-6)
    assert 0 <= d["sparse_layers"] <= d["lowered_layers"]
    assert isinstance(d["isa"], str) and d["isa"]
    assert d["notes"] == []


def test_quiet_prints_nothing(models, tmp_path):
    out = tmp_path / "r.json"
    p = bench(models["mlp"], *FAST, "-q", "-x", out)
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""
    d = json.loads(out.read_text())
    assert d["inputs"] == {"x": {"shape": [16, 64], "dtype": "float32"}}


def test_symbolic_dims_use_b_and_default_sequence(models, tmp_path):
    out = tmp_path / "r.json"
    p = bench(models["bert_sym"], *FAST, "-b", 3, "--threads", 1, "-x", out)
    assert p.returncode == 0, p.stderr
    d = json.loads(out.read_text())
    assert d["batch_size"] == 3 and d["threads"] == 1
    assert d["inputs"]["input_ids"]["shape"] == [3, 128]
    assert any("sequence length 128" in n for n in d["notes"])
    assert "sequence length 128" in p.stdout  # the choice is said, not silent


def test_symbolic_batch_defaults_to_1_and_says_so(models, tmp_path):
    out = tmp_path / "r.json"
    p = bench(models["bert_sym"], *FAST, "-x", out)
    assert p.returncode == 0, p.stderr
    d = json.loads(out.read_text())
    assert d["batch_size"] == 1 and d["inputs"]["attention_mask"]["shape"] == [1, 128]
    assert any("using batch 1" in n and "-b" in n for n in d["notes"])


def test_demo_mode_compares_sparse_and_dense(tmp_path):
    out = tmp_path / "demo.json"
    p = bench("--demo-layers", 1, *FAST, "-x", out)
    assert p.returncode == 0, p.stderr
    assert "built-in demo" in p.stdout and "dense twin" in p.stdout
    assert "Speed-up" in p.stdout
    d = json.loads(out.read_text())
    assert d["demo"] is True and d["layers"] == 1 and d["speedup"] > 0
    for tag in ("sparse", "dense"):
        assert RESULT_KEYS <= set(d[tag])
        assert d[tag]["inputs"]["input_ids"] == {"shape": [1, 128], "dtype": "int64"}
    assert d["speedup"] == pytest.approx(d["sparse"]["items_per_second"] / d["dense"]["items_per_second"])


# ---- errors --------------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    missing = tmp_path / "nope.onnx"
    p = bench(missing, *FAST)
    line = one_line_error(p)
    assert "not found" in line and str(missing) in line
    assert p.stdout == ""


def test_directory_instead_of_file(tmp_path):
    line = one_line_error(bench(tmp_path, *FAST))
    assert str(tmp_path) in line


def test_corrupt_model(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf \x00\x01\x02")
    line = one_line_error(bench(bad, *FAST))
    assert str(bad) in line


def test_model_with_unknown_op(tmp_path):
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("FrobnicateXYZ", ["x"], ["y"], domain="com.example")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)],
                          ir_version=8)
    path = tmp_path / "unknown_op.onnx"
    onnx.save(m, path)
    line = one_line_error(bench(path, *FAST))
    assert "FrobnicateXYZ" in line or "com.example" in line


@pytest.mark.parametrize("args", [["-t", "-1"], ["-w", "-2"], ["--demo-layers", "0"]])
def test_bad_numbers_exit_2(models, args):
    p = bench(models["mlp"], *args)
    assert p.returncode == 2
    one_line_error(p)


def test_export_to_missing_directory(models, tmp_path):
    p = bench(models["mlp"], *FAST, "-x", tmp_path / "no" / "such" / "dir.json")
    assert p.returncode == 2
    assert "does not exist" in one_line_error(p)


def test_bad_option_is_argparse_error():
    p = bench("--no-such-option")
    assert p.returncode == 2 and "usage" in p.stderr


# ---- the library API the full CLI will build on -----------------------------------------------------
def test_benchmark_returns_a_result_object():
    r = benchmark(mlp(hidden=32, ffn=64, tokens=8, sparsity=0.5), time_s=0.05, warmup_s=0.0)
    assert isinstance(r, BenchResult)
    assert r.iterations >= 1 and len(r.latencies_ms) == r.iterations
    assert "latencies_ms" not in r.to_dict() and len(r.to_dict(raw=True)["latencies_ms"]) == r.iterations
    json.dumps(r.to_dict())


def test_benchmark_missing_file_raises_bench_error(tmp_path):
    with pytest.raises(BenchError, match="not found"):
        benchmark(tmp_path / "x.onnx")


def test_make_inputs_rules():
    notes = []
    f = make_inputs(["input_ids", "attention_mask", "token_type_ids", "position_ids", "pixel", "flag", "n"],
                    [("batch", "sequence"), ("batch", "sequence"), ("batch", "sequence"), (None, 10),
                     (1, 3, "height", "width"), (2,), (4,)],
                    [np.int64, np.int64, np.int64, np.int32, np.float32, np.bool_, np.int64],
                    batch_size=None, vocab={"input_ids": 30}, notes=notes)
    assert f["input_ids"].shape == (1, 128) and f["input_ids"].dtype == np.int64
    assert 0 <= f["input_ids"].min() and f["input_ids"].max() < 30
    assert np.all(f["attention_mask"] == 1) and np.all(f["token_type_ids"] == 0)
    assert f["position_ids"].dtype == np.int32 and f["position_ids"][0].tolist() == list(range(10))
    assert f["pixel"].shape == (1, 3, 1, 1) and f["pixel"].dtype == np.float32
    assert f["flag"].dtype == np.bool_ and f["flag"].all()
    assert np.all(f["n"] == 0)
    assert any("'height'" in n for n in notes) and any("no recognised role" in n for n in notes)
    f = make_inputs(["ids"], [(None, None)], [np.int64], batch_size=4)
    assert f["ids"].shape == (4, 128) and f["ids"].max() < 1000
    with pytest.raises(BenchError, match="unknown rank"):
        make_inputs(["x"], [None], [np.float32])
    with pytest.raises(BenchError, match="dtype"):
        make_inputs(["s"], [(1,)], [np.dtype("U4")])
