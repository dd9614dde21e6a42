"""Small torch modules and export helpers for the exporter tests (torch is imported lazily)."""
from __future__ import annotations

import io
import math
import warnings

import numpy as np
import torch
from torch import nn

HIDDEN, HEADS, FFN = 64, 4, 128


class SelfAttention(nn.Module):
    """Multi-head self-attention written out as exporters see it: MatMul, Div by √d, Add mask, Softmax."""

    def __init__(self, hidden=HIDDEN, heads=HEADS):
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        self.q, self.k, self.v = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)

    def split(self, x):
        b, s = x.shape[0], x.shape[1]
        return x.view(b, s, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x, bias):
        b, s = x.shape[0], x.shape[1]
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        probs = torch.softmax(scores + bias, dim=-1)
        ctx = torch.matmul(probs, v).transpose(1, 2).reshape(b, s, self.heads * self.head_dim)
        return self.out(ctx)


class EncoderLayer(nn.Module):
    def __init__(self, hidden=HIDDEN, heads=HEADS, ffn=FFN):
        super().__init__()
        self.attn = SelfAttention(hidden, heads)
        self.ln1, self.ln2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.fc1, self.fc2 = nn.Linear(hidden, ffn), nn.Linear(ffn, hidden)
        self.act = nn.GELU()

    def forward(self, x, bias):
        x = self.ln1(x + self.attn(x, bias))
        return self.ln2(x + self.fc2(self.act(self.fc1(x))))


class TinyEncoder(nn.Module):
    """2-layer BERT-style encoder: x (B, S, 64) float, mask (B, S) float with 1 = attend, 0 = pad."""

    def __init__(self, layers=2):
        super().__init__()
        self.layers = nn.ModuleList([EncoderLayer() for _ in range(layers)])

    def forward(self, x, mask):
        bias = (1.0 - mask)[:, None, None, :] * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return x


class TorchEncoderLayer(nn.Module):
    """torch's own nn.TransformerEncoderLayer (batch_first, GELU, no dropout) with a padding mask."""

    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(HIDDEN, HEADS, FFN, dropout=0.0, activation="gelu",
                                                batch_first=True)

    def forward(self, x, mask):
        return self.layer(x, src_key_padding_mask=mask < 0.5)


class ResidualBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(x + self.b2(self.c2(y)))


class TinyCNN(nn.Module):
    """conv/bn/relu/maxpool, a residual block, depthwise + pointwise conv, avgpool, linear."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
        self.block = ResidualBlock(16)
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.BatchNorm2d(16), nn.ReLU(),
                                nn.Conv2d(16, 32, 1), nn.ReLU(), nn.AvgPool2d(2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.fc2 = nn.Linear(32, 64), nn.Linear(64, classes)

    def forward(self, x):
        x = self.pool(self.dw(self.block(self.stem(x)))).flatten(1)
        return self.fc2(torch.relu(self.fc1(x)))


def randomize_bn(module, seed=0):
    """Non-trivial running statistics, so BatchNorm folding is really tested."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def prune_linears(module, amount=0.9, names=None):
    """Magnitude-prune Linear weights in place (torch.nn.utils.prune, made permanent); returns pruned names."""
    from torch.nn.utils import prune

    pruned = []
    for name, m in module.named_modules():
        if isinstance(m, nn.Linear) and (names is None or any(n in name for n in names)):
            prune.l1_unstructured(m, "weight", amount=amount)
            prune.remove(m, "weight")
            pruned.append(name)
    return pruned


def export(module, args, input_names, dynamic, *, opset=17, dynamo=False):
    """ModelProto of ``module`` exported with dynamic dims; ``dynamic``: input -> {axis: name}."""
    module.eval()
    # Grad stays enabled: under no_grad, eval-mode nn.TransformerEncoderLayer takes its fused
    # fast path (aten::_transformer_encoder_layer_fwd), which the TorchScript exporter cannot export.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            dims = {d: torch.export.Dim(d, min=1, max=1024) for axes in dynamic.values() for d in axes.values()}
            shapes = {n: {ax: dims[d] for ax, d in dynamic.get(n, {}).items()} for n in input_names}
            prog = torch.onnx.export(module, args, input_names=input_names, output_names=["y"],
                                     dynamic_shapes=shapes, opset_version=opset, dynamo=True,
                                     verbose=False)
            return prog.model_proto
        buf = io.BytesIO()
        axes = {n: dict(dynamic.get(n, {})) for n in input_names}
        axes["y"] = dict(dynamic.get(input_names[0], {}))
        torch.onnx.export(module, args, buf, input_names=input_names, output_names=["y"],
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
    import onnx

    return onnx.load_from_string(buf.getvalue())


def max_rel_err(got, ref):
    ref = np.asarray(ref, dtype=np.float64)
    scale = max(float(np.abs(ref).max()), 1e-6)
    return float(np.abs(np.asarray(got, np.float64) - ref).max()) / scale
