"""A model as the server holds it: compiled once, its v2 metadata, its streams and batcher."""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from ..engine.streams import StreamPool
from .batcher import DynamicBatcher
from .protocol import TensorSpec

log = logging.getLogger(__name__)

VERSION = "1"  # one version per model: the file given on the command line


def batch_dim(graph):
    """Why batching is impossible (a string), or None when every input and output has the same
    dynamic first dim, which is what merging requests along dim 0 needs."""
    names = set()
    for kind, vis in (("input", graph.inputs), ("output", graph.outputs)):
        for vi in vis:
            if vi.shape is None or len(vi.shape) == 0:
                return f"{kind} '{vi.name}' has no dim 0"
            d = vi.shape[0]
            if isinstance(d, int):
                return f"{kind} '{vi.name}' has a fixed dim 0 ({d})"
            if isinstance(d, str):
                names.add(d)
    if len(names) > 1:
        return f"the first dims are different symbols {sorted(names)}"
    return None


class ServedModel:
    def __init__(self, path, name: str, streams: int = 1, max_batch: int = 0,
                 batch_timeout_ms: float = 2.0, cores=None, on_batch=None):
        self.name = name
        self.pool = StreamPool(path, streams=streams, cores=cores)
        graph = self.pool.engine.graph
        self.inputs = [TensorSpec.from_value_info(vi) for vi in graph.inputs]
        self.outputs = [TensorSpec.from_value_info(vi) for vi in graph.outputs]
        self.output_names = [s.name for s in self.outputs]
        # one worker per stream: requests queue here, never on a blocked thread of their own
        self.executor = ThreadPoolExecutor(streams, thread_name_prefix=f"stream-{name}")
        self._on_batch = on_batch
        self.batcher = None
        self.max_batch = 0
        if max_batch and max_batch > 1:
            why_not = batch_dim(graph)
            if why_not:
                log.warning("%s: dynamic batching off: %s", name, why_not)
            else:
                self.max_batch = int(max_batch)
                self.batcher = DynamicBatcher(self.pool.run, self.executor, max_batch,
                                              batch_timeout_ms / 1000.0, streams, on_batch)

    async def infer(self, feeds: list) -> list:
        if self.batcher is not None:
            return await self.batcher.submit(feeds)
        outs = await asyncio.get_running_loop().run_in_executor(self.executor, self.pool.run, feeds)
        if self._on_batch is not None:
            self._on_batch(feeds[0].shape[0] if feeds and feeds[0].ndim else 1)
        return outs

    def metadata(self) -> dict:
        return {"name": self.name, "versions": [VERSION], "platform": "sparse_runtime_onnx",
                "inputs": [s.metadata() for s in self.inputs],
                "outputs": [s.metadata() for s in self.outputs]}

    def config(self) -> dict:
        """Triton's model-configuration extension, the fields clients read."""
        cfg = {"name": self.name, "platform": "sparse_runtime_onnx", "backend": "sparse_runtime",
               "max_batch_size": 0,  # dims are reported in full, batch dim included, as for
               "input": [_cfg(s) for s in self.inputs],  # a Triton model with max_batch_size 0
               "output": [_cfg(s) for s in self.outputs],
               "instance_group": [{"count": self.pool.streams, "kind": "KIND_CPU"}]}
        if self.batcher is not None:
            cfg["dynamic_batching"] = {"max_queue_delay_microseconds": int(self.batcher.timeout_s * 1e6),
                                       "preferred_batch_size": [self.max_batch]}
        return cfg

    def close(self):
        self.executor.shutdown(wait=False, cancel_futures=True)


def _cfg(spec):
    m = spec.metadata()
    dt = "STRING" if m["datatype"] == "BYTES" else m["datatype"]
    return {"name": m["name"], "data_type": "TYPE_" + dt, "dims": m["shape"]}
