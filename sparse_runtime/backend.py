"""``onnx.backend.base.Backend`` over :class:`sparse_runtime.Engine`, so ONNX's own conformance
suite (``onnx.backend.test.BackendTest``) and other backend-API tools can drive the runtime.

    from sparse_runtime.backend import SparseRuntimeBackend as backend
    rep = backend.prepare(model)          # compiles once (Engine)
    outputs = rep.run([x])                # tuple-like, also indexable by output name

CPU only. ``prepare``/``run_model`` pass keyword arguments they know (``threads``, ``fallback``,
``batch_size``, ``debug``, ``options``) to the Engine and ignore the rest, as backends must.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import helper
from onnx.backend.base import Backend, BackendRep, Device, DeviceType, namedtupledict

_ENGINE_KWARGS = ("threads", "fallback", "batch_size", "debug", "options")


class SparseRuntimeRep(BackendRep):
    """A compiled model; ``run`` takes a list (graph input order), a dict, or one array."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self._outputs_type = namedtupledict("Outputs", engine.output_names)

    def run(self, inputs: Any, **kwargs: Any):
        if isinstance(inputs, dict):
            feeds = {k: _as_input(v) for k, v in inputs.items()}
        else:
            if isinstance(inputs, np.ndarray) or not isinstance(inputs, (list, tuple)):
                inputs = [inputs]
            feeds = [_as_input(v) for v in inputs]
        return self._outputs_type(*self.engine.run(feeds))


def _as_input(v):
    # The Engine insists on C-contiguous ndarrays (no silent copies on the hot path); the backend
    # API is a convenience layer, so copy here. Lists (sequence inputs) and None pass through.
    if isinstance(v, np.ndarray):
        return np.ascontiguousarray(v)
    if isinstance(v, (np.generic, int, float, bool)):
        return np.asarray(v)
    return v


class SparseRuntimeBackend(Backend):
    @classmethod
    def is_compatible(cls, model, device: str = "CPU", **kwargs: Any) -> bool:
        return cls.supports_device(device)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        try:
            return Device(device).type == DeviceType.CPU
        except AttributeError:  # an unknown device name
            return False

    @classmethod
    def prepare(cls, model, device: str = "CPU", **kwargs: Any) -> SparseRuntimeRep:
        from .engine import Engine  # lazy: importing the backend must not load native code

        if not cls.supports_device(device):
            raise RuntimeError(f"sparse_runtime runs on CPU only, got device {device!r}")
        options = {k: kwargs[k] for k in _ENGINE_KWARGS if k in kwargs}
        return SparseRuntimeRep(Engine(model, **options))

    @classmethod
    def run_model(cls, model, inputs: Any, device: str = "CPU", **kwargs: Any):
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(cls, node, inputs: Any, device: str = "CPU", outputs_info=None, **kwargs: Any):
        """Run one NodeProto: wrap it in a one-node model typed from the given inputs."""
        super().run_node(node, inputs, device=device, outputs_info=outputs_info, **kwargs)
        opset = kwargs.pop("opset_version", onnx.defs.onnx_opset_version())
        arrays = [None if x is None else _as_input(x) for x in inputs]
        graph_inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(x.dtype), x.shape)
                        for name, x in zip(node.input, arrays) if name and x is not None]
        graph_outputs = []
        for i, name in enumerate(node.output):
            if outputs_info is not None and i < len(outputs_info):
                dtype, shape = outputs_info[i]
                graph_outputs.append(helper.make_tensor_value_info(
                    name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), shape))
            else:
                graph_outputs.append(helper.make_empty_tensor_value_info(name))
        domain = node.domain if node.domain not in ("", "ai.onnx") else ""
        opsets = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(domain, 1)] if domain else [])
        model = helper.make_model(helper.make_graph([node], "run_node", graph_inputs, graph_outputs),
                                  opset_imports=opsets)
        feeds = {name: x for name, x in zip(node.input, arrays) if name and x is not None}
        return cls.prepare(model, device, **kwargs).run(feeds)


# The names onnx's backend docs use.
prepare = SparseRuntimeBackend.prepare
run_model = SparseRuntimeBackend.run_model
run_node = SparseRuntimeBackend.run_node
supports_device = SparseRuntimeBackend.supports_device

__all__ = ["SparseRuntimeBackend", "SparseRuntimeRep", "prepare", "run_model", "run_node",
           "supports_device"]
