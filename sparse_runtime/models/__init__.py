"""Synthetic ONNX model generators (built with ``onnx.helper`` from a seeded numpy RNG; nothing
is downloaded). Every generator returns an ``onnx.ModelProto``: float32, opset 17 and IR version 8
by default (so DeepSparse 1.8 can load the same files), weights magnitude-pruned with the exact
patterns of :mod:`sparse_runtime.models.prune`.

* :func:`mlp` - transformer FFN block, ``x`` [tokens, hidden] -> ``y``.
* :func:`bert_encoder` - BERT-base-shaped encoder in torch.onnx.export's node patterns.
* :func:`resnet50` - torchvision ResNet-50 (v1.5) shaped CNN with calibrated BatchNorm.
* :func:`demo_model` - what ``sparse-bench`` runs with no model argument.
"""
from __future__ import annotations

import onnx

from .bert import bert_encoder
from .mlp import mlp
from .prune import PATTERNS, magnitude_mask, prune, sparsity_of
from .resnet import resnet50


def demo_model(sparsity: float = 0.9, layers: int = 12, seq: int = 128, batch: int = 1,
               pattern: str = "unstructured", seed: int = 0) -> onnx.ModelProto:
    """BERT-base-shaped encoder stack (12 x 768, 12 heads, FFN 3072) at ``seq`` tokens and
    ``batch``, with embeddings (``input_ids``, ``attention_mask`` inputs). ``layers`` < 12 gives
    a quicker model. The same seed at ``sparsity=0.0`` is its dense twin (same weights before
    pruning). The vocabulary is cut to 8192 rows: it only sizes the embedding table, not the compute,
    and keeps the file about 60 MB smaller than with BERT's 30522."""
    return bert_encoder(layers=layers, seq=seq, batch=batch, sparsity=sparsity, pattern=pattern,
                        seed=seed, vocab=8192)


__all__ = ["PATTERNS", "bert_encoder", "demo_model", "magnitude_mask", "mlp", "prune", "resnet50",
           "sparsity_of"]
