"""Shared compile-time helpers for op factories (not an op module: the leading underscore keeps
``ops/__init__`` from importing it as one).

Everything here raises ``OpError(node, ...)`` with "expected vs got" so a bad model is reported
against the node that caused it.
"""
from __future__ import annotations

import numpy as np

from ..errors import OpError

FLOATS = ("float16", "float32", "float64")
SIGNED = ("int8", "int16", "int32", "int64")
UNSIGNED = ("uint8", "uint16", "uint32", "uint64")
INTS = SIGNED + UNSIGNED
NUMERIC = FLOATS + INTS
ALL = NUMERIC + ("bool", "string")

_MISSING = object()


def attr(node, name, default=_MISSING, kind=None, choices=None):
    """Fetch attribute ``name`` (or ``default``), checking its Python type and allowed values."""
    if name not in node.attrs:
        if default is _MISSING:
            raise OpError(node, f"required attribute '{name}' is missing")
        return default
    value = node.attrs[name]
    if kind is int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise OpError(node, f"attribute '{name}' must be an int, got {value!r}")
        value = int(value)
    elif kind is float:
        if not isinstance(value, (int, float, np.integer, np.floating)):
            raise OpError(node, f"attribute '{name}' must be a float, got {value!r}")
        value = float(value)
    elif kind is str:
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if not isinstance(value, str):
            raise OpError(node, f"attribute '{name}' must be a string, got {value!r}")
    elif kind is list:  # list of ints
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, (int, np.integer)) for v in value):
            raise OpError(node, f"attribute '{name}' must be a list of ints, got {value!r}")
        value = [int(v) for v in value]
    elif kind == "floats":
        if not isinstance(value, (list, tuple, np.ndarray)):
            raise OpError(node, f"attribute '{name}' must be a list of floats, got {value!r}")
        value = [float(v) for v in value]
    if choices is not None and value not in choices:
        raise OpError(node, f"attribute '{name}' must be one of {sorted(choices)}, got {value!r}")
    return value


def check_no_attr(node, *names):
    """Reject attributes that belong to another opset version of the op."""
    for n in names:
        if n in node.attrs:
            raise OpError(node, f"attribute '{n}' is not valid at this opset (it is an input here)")


def norm_axis(node, axis, rank, what="axis"):
    """Map a possibly negative axis into [0, rank)."""
    if not -rank <= axis < rank:
        raise OpError(node, f"{what} {axis} out of range for rank {rank}: expected [{-rank}, {rank - 1}]")
    return axis + rank if axis < 0 else axis


def norm_axes(node, axes, rank, what="axes"):
    """Normalize a list of axes, rejecting duplicates."""
    out = [norm_axis(node, int(a), rank, what) for a in axes]
    if len(set(out)) != len(out):
        raise OpError(node, f"{what} {list(axes)} contain duplicates")
    return out


def opt(inputs, i):
    """Optional input i (None if omitted or past the end)."""
    return inputs[i] if i < len(inputs) else None


def node_input(node, i):
    """Name of input i, '' when omitted."""
    return node.inputs[i] if i < len(node.inputs) else ""


def node_has_output(node, i):
    return i < len(node.outputs) and bool(node.outputs[i])


def int_list(node, arr, what):
    """A 1-D (or scalar) integer tensor input -> list of Python ints."""
    a = np.asarray(arr)
    if a.dtype.kind not in "iu":
        raise OpError(node, f"input '{what}' must be an integer tensor, got {a.dtype}")
    if a.ndim > 1:
        raise OpError(node, f"input '{what}' must be 1-D, got shape {a.shape}")
    return [int(v) for v in a.reshape(-1)]


def as_array(x):
    """numpy ufuncs turn 0-d results into numpy scalars; kernels must return ndarrays."""
    return x if type(x) is np.ndarray else np.asarray(x)
