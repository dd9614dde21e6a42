"""Reading and writing weights of an ONNX model, and ONNX ``sparse_initializer`` storage.

A sparse initializer stores the nonzero values and their int64 linear (row-major) indices, i.e.
``itemsize + 8`` bytes per nonzero against ``itemsize`` per element when dense: for float32 it only
pays below 1/3 density (above 67 % sparsity), so a weight is converted only when it gets smaller.
Our loader and ONNX Runtime both turn sparse initializers back into dense tensors at load time.
"""
from __future__ import annotations

import gzip
import os

import numpy as np
import onnx
from onnx import numpy_helper

INDEX_BYTES = 8  # the ONNX spec requires int64 indices
MIN_ELEMENTS = 64  # small tensors (biases, scales) are not worth a sparse tensor
SPARSE_IR_VERSION = 6  # sparse_initializer exists since IR version 6


def densify(model) -> list:
    """Turn every sparse initializer of ``model`` into a dense one (in place); returns their names."""
    g = model.graph
    names = []
    for sp in list(g.sparse_initializer):
        from ..ops.attributes import sparse_to_array

        arr = sparse_to_array(sp)
        g.initializer.append(numpy_helper.from_array(arr, sp.values.name))
        names.append(sp.values.name)
    del g.sparse_initializer[:]
    return names


def set_weight(model, name: str, array: np.ndarray) -> None:
    for i, t in enumerate(model.graph.initializer):
        if t.name == name:
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(array), name))
            return
    raise KeyError(f"initializer '{name}' not found")


def to_sparse_storage(model, names=None) -> list:
    """Store initializers (all, or ``names``) as sparse initializers where that saves bytes.
    Works in place; returns the names converted."""
    g = model.graph
    graph_inputs = {vi.name for vi in g.input}  # IR < 4 style weights-as-inputs stay dense
    keep, converted = [], []
    for t in g.initializer:
        arr = numpy_helper.to_array(t) if (names is None or t.name in names) else None
        if (arr is None or t.name in graph_inputs or arr.size < MIN_ELEMENTS or arr.dtype.kind != "f"
                or np.count_nonzero(arr) * (arr.itemsize + INDEX_BYTES) >= arr.nbytes):
            keep.append(t)
            continue
        flat = arr.reshape(-1)
        idx = np.flatnonzero(flat).astype(np.int64)
        values = numpy_helper.from_array(flat[idx], t.name)
        indices = numpy_helper.from_array(idx, t.name + "_indices")
        g.sparse_initializer.append(onnx.helper.make_sparse_tensor(values, indices, list(arr.shape)))
        converted.append(t.name)
    if converted:
        del g.initializer[:]
        g.initializer.extend(keep)
        model.ir_version = max(model.ir_version, SPARSE_IR_VERSION)
    return converted


def file_sizes(path: str) -> dict:
    """Raw and gzip-compressed (level 9, as TF's pruning guide measures) size in bytes."""
    with open(path, "rb") as f:
        data = f.read()
    return {"raw": len(data), "gzip": len(gzip.compress(data, compresslevel=9))}


def save(model, path: str) -> None:
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise FileNotFoundError(f"output folder '{d}' does not exist")
    onnx.save(model, path)
