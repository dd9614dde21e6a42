"""Two-layer MLP (a transformer FFN block): x -> MatMul+Add -> Relu|GELU -> MatMul+Add -> y."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from ._builder import DEFAULT_IR_VERSION, DEFAULT_OPSET, GraphBuilder, dim, pruned, randn

SQRT2 = 1.4142135381698608  # float32(sqrt(2)), the literal torch exports for GELU's erf form


def gelu_erf(b: GraphBuilder, x: str, prefix: str) -> str:
    """GELU in the node pattern torch exports: x * 0.5 * (1 + erf(x / sqrt 2)), as
    Div(sqrt2), Erf, Add(1), Mul(x), Mul(0.5)."""
    d = b.op("Div", [x, b.const(prefix + "/Constant", SQRT2)], prefix + "/Div")
    e = b.op("Erf", [d], prefix + "/Erf")
    a = b.op("Add", [e, b.const(prefix + "/Constant_1", 1.0)], prefix + "/Add")
    m = b.op("Mul", [x, a], prefix + "/Mul")
    return b.op("Mul", [m, b.const(prefix + "/Constant_2", 0.5)], prefix + "/Mul_1")


def linear(b: GraphBuilder, x: str, weight: np.ndarray, bias: np.ndarray, prefix: str,
           out=None) -> str:
    """torch's Linear on a >= 2-D input: MatMul(x, W[in, out]) then Add(bias, matmul) (bias first,
    as the exporter writes it)."""
    w = b.init(prefix + ".weight", weight)
    bb = b.init(prefix + ".bias", bias)
    mm = b.op("MatMul", [x, w], prefix + "/MatMul")
    return b.op("Add", [bb, mm], prefix + "/Add", out=out)


def mlp(hidden: int = 768, ffn: int = 3072, tokens: int = 128, sparsity: float = 0.9,
        pattern: str = "unstructured", seed: int = 0, activation: str = "gelu",
        opset: int = DEFAULT_OPSET, ir_version: int = DEFAULT_IR_VERSION,
        symbolic: bool = False) -> onnx.ModelProto:
    """``x`` float32 [tokens, hidden] -> ``y`` float32 [tokens, hidden].

    Both weights ([hidden, ffn] and [ffn, hidden], MatMul layout K x N) are magnitude-pruned with
    ``prune.magnitude_mask(sparsity, pattern)``, survivors rescaled to keep the layer's energy, so
    activations stay O(1) for a standard-normal ``x``. ``symbolic=True`` names the token dim
    ``tokens``. ``activation``: ``"gelu"`` (erf form, as torch exports it) or ``"relu"``.
    """
    if activation not in ("gelu", "relu"):
        raise ValueError(f"activation must be 'gelu' or 'relu', got {activation!r}")
    rng = np.random.default_rng(seed)
    w1 = pruned(randn(rng, (hidden, ffn), 1.0 / np.sqrt(hidden)), sparsity, pattern, "KN")
    b1 = randn(rng, (ffn,), 0.1)
    w2 = pruned(randn(rng, (ffn, hidden), 1.0 / np.sqrt(ffn)), sparsity, pattern, "KN")
    b2 = randn(rng, (hidden,), 0.1)

    b = GraphBuilder(opset)
    t = dim(tokens, "tokens" if symbolic else None)
    x = b.input("x", TensorProto.FLOAT, [t, hidden])
    h = linear(b, x, w1, b1, "fc1")
    h = gelu_erf(b, h, "act") if activation == "gelu" else b.op("Relu", [h], "act/Relu")
    linear(b, h, w2, b2, "fc2", out="y")
    b.output("y", TensorProto.FLOAT, [t, hidden])
    return b.model(f"mlp_{hidden}x{ffn}_{pattern}_{sparsity}", ir_version,
                   doc=f"sparse_runtime.models.mlp(hidden={hidden}, ffn={ffn}, tokens={tokens}, "
                       f"sparsity={sparsity}, pattern={pattern!r}, seed={seed}, activation={activation!r})")
