"""Decode ONNX AttributeProto values into the plain Python/numpy values ``Node.attrs`` holds.

The loader calls :func:`decode_attribute` for every attribute; op tests call it too, so kernels
see exactly what they will see in production.

* FLOAT/INT -> float/int, STRING -> str (utf-8), FLOATS/INTS -> list, STRINGS -> list of str
* TENSOR / SPARSE_TENSOR -> dense np.ndarray (string tensors become object arrays of str)
* TENSORS / SPARSE_TENSORS -> list of np.ndarray
* GRAPH / GRAPHS -> GraphProto(s) as-is (the loader converts subgraphs if it needs to)
* TYPE_PROTO(S) -> TypeProto(s) as-is
"""
from __future__ import annotations

import numpy as np
from onnx import AttributeProto, numpy_helper


def tensor_to_array(tensor) -> np.ndarray:
    """TensorProto -> np.ndarray; string tensors decoded from bytes to str."""
    arr = numpy_helper.to_array(tensor)
    if arr.dtype == object:
        arr = np.vectorize(_to_str, otypes=[object])(arr) if arr.size else arr.astype(object)
    return arr


def sparse_to_array(sparse) -> np.ndarray:
    """SparseTensorProto -> dense np.ndarray (zeros where no value is given)."""
    values = tensor_to_array(sparse.values)
    dims = tuple(int(d) for d in sparse.dims)
    dense = np.zeros(dims, dtype=values.dtype)
    if values.size == 0:
        return dense
    indices = numpy_helper.to_array(sparse.indices).astype(np.int64)
    if indices.ndim == 1:  # [NNZ] linearized (row-major) positions
        dense.reshape(-1)[indices] = values.reshape(-1)
    else:  # [NNZ, rank] coordinates
        dense[tuple(indices.T)] = values.reshape(-1)
    return dense


def _to_str(v):
    return v.decode("utf-8") if isinstance(v, bytes) else v


def decode_attribute(attr: AttributeProto):
    """One AttributeProto -> decoded Python value (see module docstring)."""
    t = attr.type
    if t == AttributeProto.FLOAT:
        return float(attr.f)
    if t == AttributeProto.INT:
        return int(attr.i)
    if t == AttributeProto.STRING:
        return attr.s.decode("utf-8")
    if t == AttributeProto.TENSOR:
        return tensor_to_array(attr.t)
    if t == AttributeProto.SPARSE_TENSOR:
        return sparse_to_array(attr.sparse_tensor)
    if t == AttributeProto.GRAPH:
        return attr.g
    if t == AttributeProto.TYPE_PROTO:
        return attr.tp
    if t == AttributeProto.FLOATS:
        return [float(v) for v in attr.floats]
    if t == AttributeProto.INTS:
        return [int(v) for v in attr.ints]
    if t == AttributeProto.STRINGS:
        return [s.decode("utf-8") for s in attr.strings]
    if t == AttributeProto.TENSORS:
        return [tensor_to_array(v) for v in attr.tensors]
    if t == AttributeProto.SPARSE_TENSORS:
        return [sparse_to_array(v) for v in attr.sparse_tensors]
    if t == AttributeProto.GRAPHS:
        return list(attr.graphs)
    if t == AttributeProto.TYPE_PROTOS:
        return list(attr.type_protos)
    raise ValueError(f"attribute '{attr.name}': unknown AttributeProto type {t}")


def decode_attributes(attrs) -> dict:
    """Repeated AttributeProto -> {name: decoded value}."""
    return {a.name: decode_attribute(a) for a in attrs}
