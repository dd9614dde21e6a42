"""Resize / Upsample (inputs kept tiny: the reference Resize is pure Python)."""
import numpy as np
import pytest

from opcheck import check, rand

F32 = np.float32
EMPTY = np.zeros((0,), F32)

COORDS = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric"]


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("coord", COORDS)
@pytest.mark.parametrize("scales", [(1, 1, 2.0, 1.5), (1, 1, 0.5, 0.75)])
def test_resize_scales(mode, coord, scales):
    x = rand((1, 2, 4, 4))
    check("Resize", [x, None, np.array(scales, F32)], {"mode": mode, "coordinate_transformation_mode": coord},
          opset=19)


@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
def test_resize_nearest_modes(nearest_mode):
    x = rand((1, 1, 3, 5))
    check("Resize", [x, None, None, np.array([1, 1, 7, 3], np.int64)],
          {"mode": "nearest", "nearest_mode": nearest_mode, "coordinate_transformation_mode": "asymmetric"}, opset=13)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("exclude_outside", [0, 1])
def test_resize_sizes(mode, exclude_outside):
    x = rand((1, 2, 4, 5))
    check("Resize", [x, EMPTY, EMPTY, np.array([1, 2, 7, 3], np.int64)],
          {"mode": mode, "exclude_outside": exclude_outside, "cubic_coeff_a": -0.5}, opset=11)


def test_resize_tf_crop_and_resize():
    x = rand((1, 1, 4, 4))
    roi = np.array([0, 0, 0.4, 0.6, 1, 1, 1.2, 1.7], F32)
    check("Resize", [x, roi, None, np.array([1, 1, 3, 3], np.int64)],
          {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize", "extrapolation_value": 10.0},
          opset=13)


@pytest.mark.parametrize("policy", ["stretch", "not_larger", "not_smaller"])
def test_resize_axes_and_policy(policy):
    x = rand((1, 2, 4, 6))
    check("Resize", [x, None, None, np.array([5, 5], np.int64)],
          {"mode": "linear", "axes": [2, 3], "keep_aspect_ratio_policy": policy}, opset=18)


def test_resize_uint8_and_3d():
    x = rand((1, 1, 3, 3), np.uint8, low=0, high=255)
    check("Resize", [x, None, np.array([1, 1, 2, 2], F32)], {"mode": "nearest"}, opset=13)
    check("Resize", [x, None, np.array([1, 1, 1.7, 2], F32)], {"mode": "linear"}, opset=13)
    check("Resize", [rand((1, 1, 2, 3, 2)), None, np.array([1, 1, 2, 1, 2], F32)], {"mode": "linear"}, opset=13)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("scales", [(1, 1, 2, 3), (1, 1, 1.5, 2.5)])
def test_resize_opset10_and_upsample(mode, scales):
    # legacy semantics (asymmetric coordinates, truncating nearest) as onnxruntime implements them
    x = rand((1, 2, 3, 4))
    s = np.array(scales, F32)
    check("Resize", [x, s], {"mode": mode}, opset=10, ref="ort")
    check("Upsample", [x, s], {"mode": mode}, opset=9, ref="ort")
    check("Upsample", [x], {"mode": mode, "scales": [float(v) for v in scales]}, opset=7, ref="ort")
