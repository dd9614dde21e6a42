"""Methods on one layer: the error of the pruned layer's output on calibration data orders
SparseGPT <= Wanda <= magnitude; SparseGPT's reconstruction; the conv patches (im2col) that feed
the statistics match a real convolution."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator
from prune_testutil import OPSET, hetero_inputs, rnd

from sparse_runtime.prune.calibration import LayerStats, im2col
from sparse_runtime.prune.methods import get
from sparse_runtime.prune.patterns import canonical


def layer_error(x, w, w_pruned, layout):
    """||X W - X W'||^2 with W as canonical [out, cols] and X as calibration rows."""
    c = canonical(w, layout).reshape(canonical(w, layout).shape[0], -1).astype(np.float64)
    cp = canonical(w_pruned, layout).reshape(c.shape).astype(np.float64)
    return float(np.linalg.norm(x.astype(np.float64) @ (c - cp).T) ** 2)


def errors(x, w, layout, sparsity, pattern):
    st = LayerStats(x.shape[1], hessian=True)
    st.add(x)
    return {m: layer_error(x, w, get(m)(w, sparsity, pattern, layout, st), layout)
            for m in ("magnitude", "wanda", "sparsegpt")}


@pytest.mark.parametrize("pattern,s", [("unstructured", 0.5), ("unstructured", 0.9), ("4x1", 0.75),
                                       ("1x4", 0.75), ("2:4", 0.5), ("channel", 0.5)])
@pytest.mark.parametrize("layout", ["KN", "NK"])
def test_error_order_sparsegpt_wanda_magnitude_on_a_linear_layer(pattern, s, layout):
    k, n = 256, 64
    x = hetero_inputs(1024, k, seed=1)
    w = rnd((k, n) if layout == "KN" else (n, k), 2, 1 / np.sqrt(k))
    e = errors(x, w, layout, s, pattern)
    assert e["sparsegpt"] <= e["wanda"] <= e["magnitude"], e


@pytest.mark.parametrize("pattern", ["unstructured", "4x1", "1x4", "2:4"])
def test_error_order_on_a_conv_layer(pattern):
    rng = np.random.default_rng(3)
    ci, co = 8, 16
    scale = np.exp(0.5 * rng.standard_normal(ci))[None, :, None, None]  # channels of different scale
    x = (rng.standard_normal((32, ci, 8, 8)) * scale).astype(np.float32)
    w = rnd((co, ci, 3, 3), 4, 1 / np.sqrt(9 * ci))
    rows = im2col(x, (3, 3), {"pads": [1, 1, 1, 1]})
    e = errors(rows, w, "OIHW", 0.5 if pattern == "2:4" else 0.75, pattern)
    assert e["sparsegpt"] <= e["wanda"] <= e["magnitude"], e


def test_sparsegpt_reconstructs_beyond_its_mask():
    """With SparseGPT's own mask, its updated weights beat simply zeroing (no update)."""
    x = hetero_inputs(400, 64, seed=5)
    w = rnd((64, 32), 6, 0.1)
    st = LayerStats(64, hessian=True)
    st.add(x)
    wp = get("sparsegpt")(w, 0.6, "unstructured", "KN", st)
    masked_only = np.where(wp != 0, w, 0)
    assert layer_error(x, w, wp, "KN") < 0.9 * layer_error(x, w, masked_only, "KN")


def test_sparsegpt_at_zero_sparsity_keeps_the_weights():
    x = hetero_inputs(200, 32, seed=7)
    w = rnd((32, 16), 8)
    st = LayerStats(32, hessian=True)
    st.add(x)
    np.testing.assert_allclose(get("sparsegpt")(w, 0.0, "unstructured", "KN", st), w, rtol=1e-5, atol=1e-6)


def test_dead_features_are_pruned_first_for_free():
    """A feature that never fires costs nothing to remove: SparseGPT and Wanda take those first."""
    x = hetero_inputs(200, 32, seed=9)
    x[:, :8] = 0
    w = rnd((32, 16), 10)
    st = LayerStats(32, hessian=True)
    st.add(x)
    for m in ("wanda", "sparsegpt"):
        wp = get(m)(w, 0.25, "unstructured", "KN", st)
        assert (wp[:8] == 0).all() and (wp[8:] != 0).all(), m


@pytest.mark.parametrize("attrs", [{"pads": [1, 1, 1, 1]}, {"strides": [2, 2]},
                                   {"pads": [2, 1, 0, 2], "dilations": [2, 1]},
                                   {"auto_pad": "SAME_UPPER", "strides": [2, 2]}])
def test_im2col_rows_times_canonical_weight_is_the_convolution(attrs):
    x = rnd((2, 5, 9, 7), 11)
    w = rnd((6, 5, 3, 3), 12)
    node = helper.make_node("Conv", ["x", "w"], ["y"], **attrs)
    graph = helper.make_graph([node], "c", [helper.make_tensor_value_info("x", 1, None),
                                            helper.make_tensor_value_info("w", 1, None)],
                              [helper.make_tensor_value_info("y", 1, None)])
    ref = ReferenceEvaluator(helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)]))
    y = ref.run(None, {"x": x, "w": w})[0]  # [N, Co, Ho, Wo]
    rows = im2col(x, (3, 3), attrs)
    got = rows @ canonical(w, "OIHW").reshape(6, -1).T  # [N*Ho*Wo, Co]
    np.testing.assert_allclose(got, y.transpose(0, 2, 3, 1).reshape(-1, 6), rtol=1e-4, atol=1e-4)


def test_wanda_and_sparsegpt_need_statistics():
    w = rnd((8, 8))
    for m in ("wanda", "sparsegpt"):
        with pytest.raises(ValueError, match="calibration"):
            get(m)(w, 0.5, "unstructured", "KN", None)
    with pytest.raises(ValueError, match="unknown pruning method"):
        get("optimal")
