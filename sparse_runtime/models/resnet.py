"""ResNet-50 (torchvision v1.5: stride 2 in the 3x3 conv of a bottleneck), as torch.onnx.export
writes it: Conv [+ BatchNormalization] + Relu, MaxPool, bottlenecks [3, 4, 6, 3] with projection
shortcuts, Add + Relu, GlobalAveragePool, Flatten, Gemm.

BatchNormalization statistics are *calibrated*: while the graph is built, a small random batch is
pushed through the network in numpy and every BN gets the running mean/var measured on its input
(with random gamma/beta around torchvision-like values, small gamma on the last BN of each block
like ``zero_init_residual``). So activations stay O(1) through all 50 layers at any sparsity and
the logits are meaningful numbers, not inf or 0.
"""
from __future__ import annotations

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from onnx import TensorProto

from ._builder import DEFAULT_IR_VERSION, DEFAULT_OPSET, GraphBuilder, dim, pruned, randn

BN_EPS = 1e-5
STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # (width, blocks, stride); out = 4 * width


def _conv_np(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Reference conv (NCHW, OIHW, no dilation/groups) via im2col + matmul; calibration only."""
    n, c, h, wd = x.shape
    co, ci, kh, kw = w.shape
    if kh == kw == 1 and pad == 0:
        xs = x[:, :, ::stride, ::stride]
        ho, wo = xs.shape[2:]
        return (w.reshape(co, ci) @ xs.reshape(n, c, ho * wo)).reshape(n, co, ho, wo)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]  # n,c,ho,wo,kh,kw
    ho, wo = win.shape[2:4]
    cols = win.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)
    out = cols @ w.reshape(co, -1).T
    return out.reshape(n, ho, wo, co).transpose(0, 3, 1, 2)


def _maxpool_np(x: np.ndarray, k: int = 3, stride: int = 2, pad: int = 1) -> np.ndarray:
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
    return sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride].max(axis=(4, 5))


class _Net:
    """Emits ONNX nodes and, in lockstep, runs the calibration batch through numpy."""

    def __init__(self, b: GraphBuilder, rng, sparsity, pattern, fold_bn: bool):
        self.b, self.rng, self.sparsity, self.pattern, self.fold_bn = b, rng, sparsity, pattern, fold_bn

    def conv_bn(self, x, xv, ci, co, k, stride, name, prune=True, gamma_scale=1.0, relu=True):
        """Conv(k x k, pad k//2) + BN (+ Relu). ``x`` is the ONNX value, ``xv`` its numpy value."""
        b, rng = self.b, self.rng
        w = randn(rng, (co, ci, k, k), np.sqrt(2.0 / (ci * k * k)))  # He (fan_in) init
        if prune:
            w = pruned(w, self.sparsity, self.pattern, "OIHW")
        pad = k // 2
        yv = _conv_np(xv, w, stride, pad)
        # BN: running stats measured on this batch, affine params random around torchvision's.
        mean = yv.mean(axis=(0, 2, 3)).astype(np.float32)
        var = (yv.var(axis=(0, 2, 3)) * rng.uniform(0.9, 1.1, co)).astype(np.float32) + np.float32(1e-3)
        gamma = (rng.uniform(0.5, 1.0, co) * gamma_scale).astype(np.float32)
        beta = (rng.standard_normal(co) * 0.1 * gamma_scale).astype(np.float32)
        scale = gamma / np.sqrt(var + BN_EPS)
        yv = (yv - mean[None, :, None, None]) * scale[None, :, None, None] + beta[None, :, None, None]
        prefix = "/" + name.replace(".", "/")
        attrs = dict(kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, dilations=[1, 1], group=1)
        if self.fold_bn:  # what torch.onnx.export does in eval mode with constant folding
            wf = (w * scale[:, None, None, None]).astype(np.float32)
            bf = (beta - mean * scale).astype(np.float32)
            y = b.op("Conv", [x, b.init(name + ".weight", wf), b.init(name + ".bias", bf)], prefix + "/Conv", **attrs)
        else:
            y = b.op("Conv", [x, b.init(name + ".weight", w)], prefix + "/Conv", **attrs)
            bn = name.replace("conv", "bn").replace("downsample.0", "downsample.1")
            y = b.op("BatchNormalization",
                     [y, b.init(bn + ".weight", gamma), b.init(bn + ".bias", beta),
                      b.init(bn + ".running_mean", mean), b.init(bn + ".running_var", var)],
                     "/" + bn.replace(".", "/") + "/BatchNormalization", epsilon=BN_EPS, momentum=0.9)
        if relu:
            y = b.op("Relu", [y], prefix + "/Relu")
            yv = np.maximum(yv, 0)
        return y, yv.astype(np.float32)

    def bottleneck(self, x, xv, ci, width, stride, name):
        b = self.b
        h, hv = self.conv_bn(x, xv, ci, width, 1, 1, name + ".conv1")
        h, hv = self.conv_bn(h, hv, width, width, 3, stride, name + ".conv2")  # v1.5: stride here
        h, hv = self.conv_bn(h, hv, width, 4 * width, 1, 1, name + ".conv3", gamma_scale=0.25, relu=False)
        if stride != 1 or ci != 4 * width:
            x, xv = self.conv_bn(x, xv, ci, 4 * width, 1, stride, name + ".downsample.0", relu=False)
        prefix = "/" + name.replace(".", "/")
        y = b.op("Add", [h, x], prefix + "/Add")
        y = b.op("Relu", [y], prefix + "/Relu_2")
        return y, np.maximum(hv + xv, 0)


def resnet50(batch: int = 1, image: int = 224, sparsity: float = 0.9, pattern: str = "unstructured",
             seed: int = 0, num_classes: int = 1000, fold_bn: bool = False, *,
             stages=STAGES, calib_image: int = 64, calib_batch: int = 8, symbolic: bool = False,
             opset: int = DEFAULT_OPSET, ir_version: int = DEFAULT_IR_VERSION) -> onnx.ModelProto:
    """ResNet-50-shaped CNN. Input ``input`` float32 [batch, 3, image, image] (a normalized image,
    O(1) values), output ``output`` float32 [batch, num_classes] (logits).

    Every conv except the 7x7 stem is pruned with ``prune.magnitude_mask(sparsity, pattern,
    layout="OIHW")``; the classifier Gemm is dense. ``fold_bn=True`` folds BatchNormalization into
    the convs (Conv with bias), as an eval-mode torch export does. ``stages`` lets tests build a
    shallower net, e.g. ``((64, 1, 1), (128, 1, 2))``. BN statistics are measured on a random
    ``calib_batch`` x 3 x ``min(image, calib_image)``^2 batch (see module docstring).
    ``symbolic=True`` names the batch dim ``batch``.
    """
    rng = np.random.default_rng(seed)
    b = GraphBuilder(opset)
    B = dim(batch, "batch" if symbolic else None)
    net = _Net(b, rng, sparsity, pattern, fold_bn)
    cal = min(image, calib_image)
    xv = rng.standard_normal((calib_batch, 3, cal, cal), dtype=np.float32)

    x = b.input("input", TensorProto.FLOAT, [B, 3, image, image])
    y, yv = net.conv_bn(x, xv, 3, 64, 7, 2, "conv1", prune=False)
    y = b.op("MaxPool", [y], "/maxpool/MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
             ceil_mode=0, dilations=[1, 1])
    yv = _maxpool_np(yv)
    ci = 64
    for si, (width, blocks, stride) in enumerate(stages):
        for bi in range(blocks):
            y, yv = net.bottleneck(y, yv, ci, width, stride if bi == 0 else 1, f"layer{si + 1}.{bi}")
            ci = 4 * width
    y = b.op("GlobalAveragePool", [y], "/avgpool/GlobalAveragePool")
    y = b.op("Flatten", [y], "/Flatten", axis=1)
    bound = 1.0 / np.sqrt(ci)  # torch Linear init
    fc_w = rng.uniform(-bound, bound, (num_classes, ci)).astype(np.float32)
    fc_b = rng.uniform(-bound, bound, num_classes).astype(np.float32)
    b.op("Gemm", [y, b.init("fc.weight", fc_w), b.init("fc.bias", fc_b)], "/fc/Gemm", out="output",
         alpha=1.0, beta=1.0, transB=1)
    b.output("output", TensorProto.FLOAT, [B, num_classes])
    depth = 2 + 3 * sum(s[1] for s in stages)
    return b.model(
        f"resnet{depth}_{pattern}_{sparsity}", ir_version,
        doc=(f"sparse_runtime.models.resnet50(batch={batch}, image={image}, sparsity={sparsity}, "
             f"pattern={pattern!r}, seed={seed}, num_classes={num_classes}, fold_bn={fold_bn}, stages={stages})"),
    )
