"""The onnx package's ``light_*`` model-zoo files (onnx/backend/test/data/light/), checked the way
onnx's own backend test runner checks them.

How onnx produces the inputs (onnx/backend/test/runner/__init__.py, ``Runner._add_model_test``):
for a model under ``onnx/backend/test/data/light`` it feeds every graph input that is not an
initializer with ``Runner.generate_dummy_data(x, seed=0, random=False)``, i.e.
``(np.arange(n).reshape(shape) / n).astype(float32)`` with symbolic dims set to 1, and compares with
``light_<name>_output_<i>.pb`` using ``np.testing.assert_allclose(rtol, atol)`` after asserting
equal shape and dtype. rtol/atol come from ``onnx/backend/test/case/model/__init__.py``
(``collect_testcases``): rtol 1e-3 (2e-3 for densenet121), atol 1e-7.
"""
from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

LIGHT_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
MODELS = ["resnet50", "vgg19", "densenet121", "inception_v1", "inception_v2", "shufflenet",
          "squeezenet", "bvlc_alexnet", "zfnet512"]
_FALLBACK_TOL = {name: (2e-3 if name == "densenet121" else 1e-3, 1e-7) for name in MODELS}


def tolerances(name):
    """(rtol, atol) from onnx's own table of real-model test cases."""
    try:
        from onnx.backend.test.case.model import collect_testcases

        for case in collect_testcases():
            if case.kind == "real" and case.model_name == name:
                return case.rtol, case.atol
    except Exception:  # pragma: no cover - onnx moved its internals
        pass
    return _FALLBACK_TOL[name]


def dummy_input(vi):
    try:
        from onnx.backend.test.runner import Runner

        return Runner.generate_dummy_data(vi, seed=0, name="", random=False)
    except ImportError:  # pragma: no cover - same formula, written out
        shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim)
        n = int(np.prod(shape))
        return (np.arange(n).reshape(shape) / n).astype(np.float32)


def load_case(name):
    path = os.path.join(LIGHT_DIR, f"light_{name}.onnx")
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing from the installed onnx package")
    model = onnx.load(path)
    inits = {t.name for t in model.graph.initializer}
    feeds = {vi.name: dummy_input(vi) for vi in model.graph.input if vi.name not in inits}
    expected = []
    i = 0
    while os.path.exists(os.path.join(LIGHT_DIR, f"light_{name}_output_{i}.pb")):
        t = onnx.load_tensor(os.path.join(LIGHT_DIR, f"light_{name}_output_{i}.pb"))
        expected.append(numpy_helper.to_array(t))
        i += 1
    assert len(expected) == len(model.graph.output)
    return path, model, feeds, expected


def assert_like_onnx_runner(outputs, expected, rtol, atol):
    assert len(outputs) == len(expected)
    for out, ref in zip(outputs, expected):
        out = np.asarray(out)
        np.testing.assert_array_equal(out.shape, ref.shape, err_msg="output has incorrect shape")
        assert out.dtype == ref.dtype
        np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", MODELS)
def test_engine_light_model(name):
    from sparse_runtime import Engine

    path, _, feeds, expected = load_case(name)
    eng = Engine(path)
    assert list(eng.input_names) == list(feeds)
    outs = eng.run(feeds)
    assert_like_onnx_runner(outs, expected, *tolerances(name))


@pytest.mark.parametrize("name", MODELS)
def test_light_model_inputs_reproduce_stored_outputs_with_onnxruntime(name):
    """Checks this file's reading of onnx's loader: onnxruntime on these inputs gives the stored
    outputs. (onnx's ReferenceEvaluator does not for squeezenet: not used as the oracle here.)"""
    ort = pytest.importorskip("onnxruntime")
    path, _, feeds, expected = load_case(name)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    outs = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]).run(None, feeds)
    assert_like_onnx_runner(outs, expected, *tolerances(name))
