"""sparse-prune as a subprocess: outputs, --report, --sparse-storage, exit codes, one-line errors."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from prune_testutil import REPO, cnn_model, hetero_inputs, mlp_model, ort_run, rnd

from sparse_runtime.engine import Engine
from sparse_runtime.prune.cli import EXIT_FAILED, EXIT_INPUT, EXIT_OUTPUT, EXIT_USAGE, main


def cli(*args, timeout=120):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "sparse_runtime.prune.cli", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def one_line_error(p, code):
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sparse-prune: error: "), p.stderr
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    onnx.save(mlp_model(k=64, h=128, h2=96), d / "mlp.onnx")
    onnx.save(cnn_model(), d / "cnn.onnx")
    np.savez(d / "calib.npz", x=hetero_inputs(64, 64, seed=2))
    return d


def test_sparsegpt_with_report_and_sparse_storage(files):
    out = files / "out.onnx"
    p = cli(files / "mlp.onnx", "-o", out, "--sparsity", "0.9", "--method", "sparsegpt", "--calib",
            files / "calib.npz", "--sparse-storage", "--report")
    assert p.returncode == 0, p.stderr
    assert "2 layers pruned (sparsegpt, unstructured, scope layer), sparsity 90.0 %" in p.stdout
    assert "2 weights stored sparse" in p.stdout
    for needle in ("fc1/MatMul", "fc2/Gemm", "kept (classifier)", "90.0 %", "nz-bytes", "total", "raw", "gzip",
                   "ratio"):
        assert needle in p.stdout, needle
    m = onnx.load(out)
    assert {s.values.name for s in m.graph.sparse_initializer} == {"w1", "w2"}
    onnx.checker.check_model(m)
    assert out.stat().st_size < 0.5 * (files / "mlp.onnx").stat().st_size
    x = hetero_inputs(8, 64, seed=3)
    np.testing.assert_allclose(Engine(str(out)).run([x])[0], ort_run(str(out), x), rtol=1e-4, atol=1e-4)


def test_dense_storage_keeps_size_but_gzips_smaller(files, capsys):
    out = files / "dense_out.onnx"
    assert main([str(files / "mlp.onnx"), "-o", str(out), "--sparsity", "0.8", "--report", "-q"]) == 0
    text = capsys.readouterr().out
    assert "layers pruned" not in text and "gzip" in text  # -q drops the summary, not the report
    raw_in, raw_out = (files / "mlp.onnx").stat().st_size, out.stat().st_size
    assert abs(raw_in - raw_out) < 200


@pytest.mark.parametrize("pattern", ["4x1", "1x4", "2:4", "channel"])
def test_patterns_and_conv(files, pattern):
    out = files / f"cnn_{pattern.replace(':', '')}.onnx"
    args = ["--sparsity", "0.5"] if pattern != "2:4" else []
    assert main([str(files / "cnn.onnx"), "-o", str(out), "--pattern", pattern, "--method", "wanda", "-q",
                 "--calib-samples", "8", *args]) == 0
    x = rnd((2, 1, 8, 8))
    np.testing.assert_allclose(Engine(str(out)).run([x])[0], ort_run(str(out), x), rtol=1e-4, atol=1e-4)


def test_global_scope_exclude_and_smoke_calibration_note(files):
    p = cli(files / "cnn.onnx", "-o", files / "g.onnx", "--sparsity", "0.7", "--scope", "global", "--method",
            "sparsegpt", "--exclude", "conv3", "--include-classifier", "--report", "--calib-samples", "8")
    assert p.returncode == 0, p.stderr
    assert "random samples" in p.stdout
    assert "kept (--exclude 'conv3')" in p.stdout and "kept (first conv)" in p.stdout


@pytest.mark.parametrize("args,code,needle", [
    (["--sparsity", "1.5"], EXIT_USAGE, "[0, 1]"),
    ([], EXIT_USAGE, "--sparsity is required"),
    (["--sparsity", "0.9", "--pattern", "2:4"], EXIT_USAGE, "2:4"),
    (["--sparsity", "0.5", "--pattern", "3:8"], EXIT_USAGE, "invalid choice"),
    (["--sparsity", "0.5", "--exclude", "("], EXIT_USAGE, "regular expression"),
    (["--sparsity", "0.5", "--method", "wanda", "--calib", "MISSING.npz"], EXIT_INPUT, "does not exist"),
    (["--sparsity", "0.5", "--exclude", "."], EXIT_FAILED, "no layer to prune"),
])
def test_bad_arguments_give_one_line_and_exit_code(files, args, code, needle):
    p = cli(files / "mlp.onnx", "-o", files / "x.onnx", *args)
    assert needle in one_line_error(p, code)


def test_bad_files(files, tmp_path):
    p = cli(tmp_path / "nope.onnx", "-o", tmp_path / "o.onnx", "--sparsity", "0.5")
    assert "does not exist" in one_line_error(p, EXIT_INPUT)
    (tmp_path / "junk.onnx").write_bytes(b"\x00garbage" * 10)
    p = cli(tmp_path / "junk.onnx", "-o", tmp_path / "o.onnx", "--sparsity", "0.5")
    one_line_error(p, EXIT_INPUT)
    p = cli(files / "mlp.onnx", "-o", tmp_path / "no" / "such" / "o.onnx", "--sparsity", "0.5")
    assert "does not exist" in one_line_error(p, EXIT_OUTPUT)
    np.savez(tmp_path / "wrong.npz", a=np.zeros((4, 64), np.float32), b=np.zeros((4, 64), np.float32))
    p = cli(files / "mlp.onnx", "-o", tmp_path / "o.onnx", "--sparsity", "0.5", "--method", "sparsegpt",
            "--calib", tmp_path / "wrong.npz")
    assert "needs inputs ['x']" in one_line_error(p, EXIT_INPUT)
    p = cli(files / "mlp.onnx", "-o", files / "mlp.onnx", "--sparsity", "0.5")
    one_line_error(p, EXIT_USAGE)


def test_help_lists_the_options():
    p = cli("--help")
    assert p.returncode == 0
    for opt in ("--sparsity", "--pattern", "--method", "--calib", "--scope", "--exclude", "--sparse-storage",
                "--report"):
        assert opt in p.stdout
