"""SPARSE_RUNTIME_ISA forces a level at import; an impossible request is a clear error."""
import json
import os
import subprocess
import sys

import pytest

from sparse_runtime import kernels

SNIPPET = "import json, sparse_runtime as s; print(json.dumps(s.cpu_info()))"


def _run(env_value):
    env = dict(os.environ, SPARSE_RUNTIME_ISA=env_value)
    return subprocess.run([sys.executable, "-c", SNIPPET], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("isa", kernels.supported_isas())
def test_env_forces_isa(isa):
    proc = _run(isa)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["isa"] == isa


def test_env_unknown_isa_is_a_clear_error():
    proc = _run("avx1024")
    assert proc.returncode != 0
    assert "SPARSE_RUNTIME_ISA" in proc.stderr and "avx1024" in proc.stderr


@pytest.mark.parametrize("isa", kernels.supported_isas())
def test_fma_peak_probe_measures_every_isa(isa):
    """The peak the efficiency figures are quoted against runs at every ISA and gives a sane figure."""
    with kernels.force_isa(isa):
        peak = kernels.fma_peak_gflops(0.02)
    assert 0.05 < peak < 10_000


def test_fma_peak_probe_checks_its_argument():
    for bad in (0.0, -1.0, 61.0, float("nan")):
        with pytest.raises(ValueError, match="seconds"):
            kernels.fma_peak_gflops(bad)
