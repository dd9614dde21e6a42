"""Constant: exactly one of value / sparse_value / value_float(s) / value_int(s) /
value_string(s). The array is built once at compile time and returned read-only."""
from __future__ import annotations

import numpy as np

from ..errors import OpError
from ._util import ALL
from .registry import register

_KINDS = ("value", "sparse_value", "value_float", "value_floats", "value_int", "value_ints",
          "value_string", "value_strings")


def _build(node, key, v):
    if key in ("value", "sparse_value"):
        if not isinstance(v, np.ndarray):
            raise OpError(node, f"attribute '{key}' must be a tensor, got {type(v).__name__}")
        return np.array(v)  # own copy: we freeze it below
    if key == "value_float":
        return np.array(v, dtype=np.float32)
    if key == "value_floats":
        return np.array(v, dtype=np.float32).reshape(-1)
    if key == "value_int":
        return np.array(v, dtype=np.int64)
    if key == "value_ints":
        return np.array(v, dtype=np.int64).reshape(-1)
    if key == "value_string":
        out = np.empty((), dtype=object)
        out[()] = v
        return out
    return np.array(list(v), dtype=object).reshape(-1)  # value_strings


@register("Constant", since=1, dtypes=ALL)
def constant(node, ctx):
    given = [k for k in _KINDS if k in node.attrs]
    if len(given) != 1:
        raise OpError(node, f"expected exactly one of {list(_KINDS)}, got {given}")
    value = _build(node, given[0], node.attrs[given[0]])
    value.flags.writeable = False  # shared by every run
    return lambda inputs: [value]
