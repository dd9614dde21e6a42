"""The full sparse-bench (issue 3): scenarios, --input-shapes, --compare onnxruntime, --profile and its
Chrome trace, --impose-sparsity, the JSON schema, and the library pieces under them
(Engine.benchmark / Engine.profile, parse_input_shapes, impose_sparsity, check_agreement).
Every CLI run is a subprocess with -t 0.3 so the directory stays fast."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sparse_runtime import Engine  # noqa: E402
from sparse_runtime.cli.compare_ort import check_agreement  # noqa: E402
from sparse_runtime.engine.benchmark import BenchResult  # noqa: E402
from sparse_runtime.engine.feeds import InputShapesError, parse_input_shapes  # noqa: E402
from sparse_runtime.models import bert_encoder, mlp  # noqa: E402
from sparse_runtime.models.prune_model import impose_sparsity  # noqa: E402

FAST = ["-t", "0.3", "-w", "0.05"]
NEW_KEYS = {"scenario", "streams", "percentiles_ms", "nodes", "native_nodes", "native_node_fraction",
            "flops_per_run", "native_flop_fraction", "weight_sparsity", "machine"}


def bench(*args, env_extra=None, timeout=240):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "sparse_runtime.cli.bench", *map(str, args)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)


def one_line_error(p, code=None):
    assert p.returncode != 0 and (code is None or p.returncode == code), (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sparse-bench: error: "), p.stderr
    return lines[0]


def tiny_cnn(sparsity=0.0):
    """Conv(3->8) Relu Conv(8->8) Relu GlobalAveragePool Flatten Gemm(8->10): a first conv and a classifier."""
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((8, 3, 3, 3)).astype(np.float32)
    w2 = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    fc = rng.standard_normal((10, 8)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("GlobalAveragePool", ["r2"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fc"], ["logits"], name="fc", transB=1)]
    g = helper.make_graph(nodes, "tiny_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
                          [numpy_helper.from_array(a, n) for n, a in (("w1", w1), ("w2", w2), ("fc", fc))])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench_full")
    paths = {"bert": d / "bert.onnx", "bert_dense": d / "bert_dense.onnx", "bert_sym": d / "bert_sym.onnx",
             "mlp": d / "mlp.onnx"}
    onnx.save(bert_encoder(layers=1, hidden=64, heads=4, ffn=128, seq=16, batch=2, vocab=50), paths["bert"])
    onnx.save(bert_encoder(layers=1, hidden=64, heads=4, ffn=128, seq=16, batch=2, vocab=50, sparsity=0.0),
              paths["bert_dense"])
    onnx.save(bert_encoder(layers=1, hidden=64, heads=4, ffn=128, seq=16, vocab=50, symbolic=True), paths["bert_sym"])
    onnx.save(mlp(hidden=64, ffn=256, tokens=16, sparsity=0.9), paths["mlp"])
    return paths


def run_json(tmp_path, *args):
    out = tmp_path / "r.json"
    p = bench(*args, *FAST, "-x", out)
    assert p.returncode == 0, p.stderr
    return p, json.loads(out.read_text())


# ---- output and schema ---------------------------------------------------------------------------
def test_json_schema_and_printed_figures(models, tmp_path):
    p, d = run_json(tmp_path, models["bert"])
    assert NEW_KEYS <= set(d)
    assert d["scenario"] == "sync" and d["streams"] == 1
    assert set(d["percentiles_ms"]) == {"p1", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "p99", "p99.9"}
    vals = list(d["percentiles_ms"].values())
    assert vals == sorted(vals) and d["percentiles_ms"]["p50"] == pytest.approx(d["latency_ms"]["median"])
    assert 0 < d["native_nodes"] <= d["nodes"] and d["native_node_fraction"] == pytest.approx(d["native_nodes"] / d["nodes"])
    assert 0.0 < d["native_flop_fraction"] <= 1.0 and d["flops_per_run"] > 0
    assert d["weight_sparsity"] == pytest.approx(0.9, abs=0.01)
    m = d["machine"]
    assert m["cpu_model"] and isinstance(m["features"], list) and m["isa"] == d["isa"]
    for text in ("Scenario:", "Native kernels:", "of", "nodes", "dense-equivalent", "weight sparsity 90.0 %"):
        assert text in p.stdout, text
    assert p.stderr == ""  # not a terminal: no progress output


def test_async_scenario(models, tmp_path):
    p, d = run_json(tmp_path, models["mlp"], "--scenario", "async", "--streams", 3)
    assert d["scenario"] == "async" and d["streams"] == 3 and d["iterations"] >= 3
    assert d["items_per_second"] == pytest.approx(d["batch_size"] * d["iterations"] / d["seconds"], rel=1e-6)
    assert "async (3 streams)" in p.stdout


def test_input_shapes_sets_symbolic_dims(models, tmp_path):
    _, d = run_json(tmp_path, models["bert_sym"], "--input-shapes", "input_ids:3,24; attention_mask:3,24")
    assert d["batch_size"] == 3 and d["notes"] == []
    assert d["inputs"]["input_ids"]["shape"] == [3, 24] and d["inputs"]["attention_mask"]["shape"] == [3, 24]


# ---- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("shapes, expect", [
    ("input_ids", "expected name:d0,d1"),
    ("input_ids:1,x1", "integers"),
    ("input_ids:0,16", ">= 1"),
    ("input_idz:1,16", "unknown input 'input_idz' in --input-shapes; did you mean 'input_ids'"),
    ("input_ids:1,16,4", "rank 3"),
])
def test_bad_input_shapes_exit_2(models, shapes, expect):
    p = bench(models["bert_sym"], *FAST, "--input-shapes", shapes)
    assert expect in one_line_error(p, 2)
    assert p.stdout == ""


def test_input_shapes_cannot_contradict_static_dims(models):
    line = one_line_error(bench(models["bert"], *FAST, "--input-shapes", "input_ids:2,32;attention_mask:2,32"), 2)
    assert "fixes it at 16" in line


@pytest.mark.parametrize("args", [["--streams", "0"], ["--impose-sparsity", "1.5"], ["-b", "0"],
                                  ["--profile-runs", "0"]])
def test_bad_numbers_exit_2(models, args):
    one_line_error(bench(models["mlp"], *FAST, *args), 2)


def test_onnxruntime_missing_is_a_clear_message(models, tmp_path):
    shim = tmp_path / "shim" / "onnxruntime"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('no onnxruntime here')\n")
    p = bench(models["mlp"], *FAST, "--compare", "onnxruntime",
              env_extra={"PYTHONPATH": os.pathsep.join([str(shim.parent), str(REPO)])})
    assert "onnxruntime is not installed" in one_line_error(p, 1) and "pip install onnxruntime" in p.stderr


# ---- --compare onnxruntime -----------------------------------------------------------------------
def test_compare_onnxruntime_agrees_and_prints_both_rows(models, tmp_path):
    pytest.importorskip("onnxruntime")
    p, d = run_json(tmp_path, models["bert"], "--compare", "onnxruntime")
    c = d["compare"]
    assert c["runtime"].startswith("onnxruntime ")
    assert c["agreement"]["agree"] is True and c["agreement"]["max_abs_diff"] < 1e-3
    assert c["speedup"] == pytest.approx(d["items_per_second"] / c["result"]["items_per_second"])
    assert c["result"]["inputs"] == d["inputs"] and c["result"]["iterations"] >= 1
    # turn by turn: both get the same number of timed runs in the sync scenario
    # Time slices alternate, so both runtimes get the same wall time, not the same run count.
    assert c["result"]["iterations"] >= 2 and d["iterations"] >= 2
    assert "sparse_runtime " in p.stdout and "onnxruntime " in p.stdout and "Speed-up:" in p.stdout
    assert "agree with onnxruntime" in p.stdout


def test_compare_zero_tolerance_exit_code_follows_the_diff(models, tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "r.json"
    p = bench(models["bert"], *FAST, "--compare", "onnxruntime", "--atol", 0, "--rtol", 0, "-x", out)
    d = json.loads(out.read_text())  # results are written even when outputs disagree
    if d["compare"]["agreement"]["max_abs_diff"] > 0:
        assert "disagree" in one_line_error(p, 3) and "DISAGREE" in p.stdout
    else:
        assert p.returncode == 0


def test_check_agreement_rules():
    a = [np.array([1.0, 2.0], np.float32), np.array([3, 4])]
    ok = check_agreement(a, [np.array([1.0005, 2.0], np.float32), np.array([3, 4])], ["y", "ids"])
    assert ok["agree"] and ok["max_abs_diff"] == pytest.approx(5e-4, rel=1e-3)
    bad = check_agreement(a, [np.array([1.1, 2.0], np.float32), np.array([3, 5])], ["y", "ids"])
    assert not bad["agree"] and not bad["outputs"]["y"]["agree"] and not bad["outputs"]["ids"]["agree"]
    shape = check_agreement([np.zeros(2)], [np.zeros(3)], ["y"])
    assert not shape["agree"] and "shape" in shape["outputs"]["y"]["why"]


# ---- --profile ------------------------------------------------------------------------------------
def test_profile_rows_sum_to_the_measured_total(models, tmp_path):
    trace = tmp_path / "trace.json"
    p, d = run_json(tmp_path, models["bert"], "--profile-export", trace, "--profile-runs", 5)
    prof = d["profile"]
    assert prof["runs"] == 5 and len(prof["nodes"]) == d["nodes"]
    assert prof["nodes_ms"] == pytest.approx(sum(n["mean_ms"] for n in prof["nodes"]))
    # Rows add up to the run, less the run's set-up (a few µs to tens of µs: 5 % of a tiny model's
    # 0.13 ms run is only 7 µs, so the slack is also absolute).
    assert prof["nodes_ms"] <= prof["total_ms"] * 1.01
    assert prof["total_ms"] - prof["nodes_ms"] <= max(0.05 * prof["total_ms"], 0.05)
    times = [n["mean_ms"] for n in prof["nodes"]]
    assert times == sorted(times, reverse=True)
    assert sum(n["percent"] for n in prof["nodes"]) == pytest.approx(100.0, abs=0.1)
    packed = [n for n in prof["nodes"] if n["op"] == "PackedMatMul"]
    assert packed and all(n["native"] and n["weight_sparsity"] == pytest.approx(0.9, abs=0.01) for n in packed)
    assert all(n["gflops"] > 0 and n["nonzero_flops"] < n["dense_flops"] for n in packed)
    header = next(line for line in p.stdout.splitlines() if line.strip().startswith("name"))
    for col in ("op", "kernel", "output shape", "w.sparsity", "ms", "%", "GFLOP/s"):
        assert col in header
    assert "Sum of nodes:" in p.stdout

    events = json.loads(trace.read_text())
    assert isinstance(events, list)
    runs = [e for e in events if e["name"] == "model_run"]
    nodes = [e for e in events if e["cat"] == "Node"]
    assert len(runs) == 5 and len(nodes) == 5 * d["nodes"]
    names = {n["name"] + "_kernel_time" for n in prof["nodes"]}
    assert {e["name"] for e in nodes} == names
    for e in nodes:
        assert e["ph"] == "X" and e["dur"] >= 0 and "op_name" in e["args"] and "shape" in e["args"]


def test_engine_profile_api(models):
    eng = Engine(str(models["mlp"]))
    x = np.random.default_rng(0).standard_normal((16, 64)).astype(np.float32)
    prof = eng.profile({"x": x}, runs=3)
    assert len(prof) == len(eng.plan.steps) and len(prof.run_ms) == 3
    assert [r.index for r in prof] == list(range(len(prof)))
    assert all(len(r.times_ms) == 3 for r in prof)
    assert all(r.output_shapes[0] in ([16, 64], [16, 256]) for r in prof)
    np.testing.assert_array_equal(eng.run([x])[0], eng.run({"x": x})[0])  # run path unchanged


# ---- --impose-sparsity ----------------------------------------------------------------------------
def test_impose_sparsity_changes_reported_sparsity(models, tmp_path):
    _, before = run_json(tmp_path, models["bert_dense"])
    p, after = run_json(tmp_path, models["bert_dense"], "--impose-sparsity", 0.9)
    assert before["weight_sparsity"] == pytest.approx(0.0, abs=1e-3)
    assert after["weight_sparsity"] == pytest.approx(0.9, abs=0.01)  # an encoder has no classifier to skip
    assert after["sparse_layers"] >= before["sparse_layers"]
    info = after["impose_sparsity"]
    assert info["sparsity"] == 0.9 and len(info["pruned"]) == 6 and info["skipped"] == []
    assert "imposed 90% unstructured sparsity on 6 layer(s)" in p.stdout


def test_impose_sparsity_skips_first_conv_and_classifier():
    m = tiny_cnn()
    pruned, rep = impose_sparsity(m, 0.75)
    w = {t.name: numpy_helper.to_array(t) for t in pruned.graph.initializer}
    assert [n for n, _, _ in rep.pruned] == ["conv2"]
    assert dict(rep.skipped) == {"conv1": "first conv", "fc": "final classifier"}
    assert np.mean(w["w2"] == 0) == pytest.approx(0.75, abs=1 / w["w2"].size)
    assert np.count_nonzero(w["w1"] == 0) == 0 and np.count_nonzero(w["fc"] == 0) == 0
    assert numpy_helper.to_array(m.graph.initializer[1]).min() != 0  # the input model is untouched
    _, everything = impose_sparsity(m, 0.75, include_ends=True)
    assert len(everything.pruned) == 3 and everything.skipped == []


# ---- library API ----------------------------------------------------------------------------------
def test_engine_benchmark_api(models):
    eng = Engine(str(models["bert_sym"]), batch_size=2)
    r = eng.benchmark(time=0.2, warmup=0.0, batch_size=2, scenario="async", streams=2)
    assert isinstance(r, BenchResult) and r.scenario == "async" and r.streams == 2
    assert r.batch_size == 2 and r.iterations == len(r.latencies_ms) >= 2
    assert math.isclose(r.items_per_second, 2 * r.iterations / r.seconds)
    assert r.lowered_layers == len(eng.report()) and 0 <= r.native_flop_fraction <= 1
    json.dumps(r.to_dict())


def test_parse_input_shapes():
    assert parse_input_shapes("a:1,128;b:1x3x224x224;") == {"a": (1, 128), "b": (1, 3, 224, 224)}
    assert parse_input_shapes(" ns::x : 2 , 3 ") == {"ns::x": (2, 3)}  # the last ':' separates
    for bad in ("", ";", "a", "a:", "a:1,-1", "a:1;a:2"):
        with pytest.raises(InputShapesError):
            parse_input_shapes(bad)
