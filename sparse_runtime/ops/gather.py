"""Gather: np.take along ``axis``; negative indices count from the end.

Row gathers of at least 16 KB (an embedding lookup) run natively (``kernels.gather_rows``): numpy
took 90-130 us for BERT-base's 128 rows of 3 KB between two kernels, with cold caches."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..errors import OpError
from ._util import ALL, attr, norm_axis
from .registry import register


_NATIVE_INDEX = (np.dtype(np.int64), np.dtype(np.int32))
_NATIVE_BYTES = 16384


@register("Gather", since=1, dtypes=ALL)
def gather(node, ctx):
    axis = attr(node, "axis", 0, int)

    def kernel(inputs):
        data, indices = inputs
        ax = norm_axis(node, axis, data.ndim)
        if (ax == 0 and data.ndim >= 2 and type(data) is np.ndarray and type(indices) is np.ndarray
                and indices.dtype in _NATIVE_INDEX and data.dtype.kind in "biuf" and data.flags.c_contiguous
                and indices.flags.c_contiguous and indices.size * (data.nbytes // max(1, len(data))) >= _NATIVE_BYTES):
            try:
                return [kernels.gather_rows(data, indices)]
            except IndexError as e:
                raise OpError(node, f"index out of range for axis {axis} of size {data.shape[ax]}: {e}") from None
            except (TypeError, ValueError):
                pass  # a dtype the native gather does not take: np.take below
        try:
            return [np.take(data, indices, axis=ax)]  # take accepts [-n, n) and always copies
        except IndexError as e:
            raise OpError(node, f"index out of range for axis {axis} of size {data.shape[ax]}: {e}") from None

    return kernel
