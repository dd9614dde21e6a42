"""ONNX Runtime's Python API over :class:`Engine`, for the parts serving code uses.

``import sparse_runtime as ort`` then ``ort.InferenceSession(path, sess_options, providers)``,
``get_inputs()``/``get_outputs()``, ``get_modelmeta()``, ``run(output_names, input_feed)`` and
profiling behave as in onnxruntime, so such code runs unchanged. Knobs that only make sense in
onnxruntime (graph optimization level, execution mode, arenas, providers other than the CPU) are
accepted and ignored, as onnxruntime ignores a provider it does not have.
"""
from __future__ import annotations

import datetime
import enum
import logging
import os
import warnings

import numpy as np

from .engine.profile import ProfileRecorder
from .engine.session import Engine
from .engine.streams import StreamPool
from .errors import InputError

log = logging.getLogger(__name__)

CPU_PROVIDER = "CPUExecutionProvider"

# numpy dtype -> onnxruntime's NodeArg.type string
_ORT_TYPE = {
    np.dtype(np.float32): "tensor(float)", np.dtype(np.float64): "tensor(double)",
    np.dtype(np.float16): "tensor(float16)", np.dtype(np.bool_): "tensor(bool)",
    np.dtype(np.int8): "tensor(int8)", np.dtype(np.int16): "tensor(int16)",
    np.dtype(np.int32): "tensor(int32)", np.dtype(np.int64): "tensor(int64)",
    np.dtype(np.uint8): "tensor(uint8)", np.dtype(np.uint16): "tensor(uint16)",
    np.dtype(np.uint32): "tensor(uint32)", np.dtype(np.uint64): "tensor(uint64)",
    np.dtype(object): "tensor(string)", np.dtype(np.str_): "tensor(string)",
}


class GraphOptimizationLevel(enum.IntEnum):
    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_ALL = 99


class ExecutionMode(enum.IntEnum):
    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


class SessionOptions:
    """onnxruntime.SessionOptions. Used: ``intra_op_num_threads`` (0 = all cores),
    ``enable_profiling``, ``profile_file_prefix``. Accepted for compatibility, no effect: the rest."""

    def __init__(self):
        self.intra_op_num_threads = 0
        self.inter_op_num_threads = 0
        self.enable_profiling = False
        self.profile_file_prefix = "onnxruntime_profile_"
        self.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.execution_mode = ExecutionMode.ORT_SEQUENTIAL
        self.log_severity_level = 2
        self.log_verbosity_level = 0
        self.logid = ""
        self.optimized_model_filepath = ""
        self.enable_cpu_mem_arena = True
        self.enable_mem_pattern = True
        self.enable_mem_reuse = True
        self.use_deterministic_compute = False
        self._config = {}

    def add_session_config_entry(self, key, value):
        self._config[str(key)] = str(value)

    def get_session_config_entry(self, key):
        return self._config[key]


class RunOptions:
    """onnxruntime.RunOptions: accepted, no effect (a run cannot be cancelled midway here)."""

    def __init__(self):
        self.log_severity_level = 2
        self.log_verbosity_level = 0
        self.logid = ""
        self.tag = ""
        self.terminate = False
        self.only_execute_path_to_fetches = False


class NodeArg:
    """A graph input/output as onnxruntime describes it: shape dims are ints, strings for symbolic
    dims, or None when unknown."""

    def __init__(self, name, type_, shape):
        self.name, self.type, self.shape = name, type_, shape

    def __repr__(self):
        return f"NodeArg(name={self.name!r}, type={self.type!r}, shape={self.shape!r})"


class ModelMetadata:
    def __init__(self, proto):
        self.producer_name = proto.producer_name
        self.graph_name = proto.graph.name
        self.domain = proto.domain
        self.description = proto.doc_string
        self.graph_description = proto.graph.doc_string
        # onnxruntime reports an unset model_version as INT64_MAX
        self.version = proto.model_version if proto.HasField("model_version") else 2**63 - 1
        self.custom_metadata_map = {p.key: p.value for p in proto.metadata_props}


def get_available_providers():
    return [CPU_PROVIDER]


def get_all_providers():
    return [CPU_PROVIDER]


def get_device():
    return "CPU"


def set_default_logger_severity(level):
    logging.getLogger("sparse_runtime").setLevel({0: 5, 1: logging.DEBUG, 2: logging.WARNING,
                                                  3: logging.ERROR}.get(int(level), logging.CRITICAL))


def _provider_names(providers):
    """Names of the requested providers; ones we do not have are dropped with a warning, as
    onnxruntime does ('Specified provider ... is not in available provider names')."""
    for p in providers or [CPU_PROVIDER]:
        name = p[0] if isinstance(p, (tuple, list)) else p
        if name != CPU_PROVIDER:
            warnings.warn(f"Specified provider '{name}' is not in available provider names. "
                          f"Available providers: '{CPU_PROVIDER}'", stacklevel=3)
    return [CPU_PROVIDER]


def _node_arg(vi):
    shape = None if vi.shape is None else [d if isinstance(d, (int, str)) else None for d in vi.shape]
    dtype = None if vi.dtype is None else np.dtype(vi.dtype)
    return NodeArg(vi.name, _ORT_TYPE.get(dtype, "tensor(undefined)"), shape)


class InferenceSession:
    """onnxruntime.InferenceSession backed by a compiled :class:`Engine`.

    ``path_or_bytes``: a path, serialized model bytes or an ``onnx.ModelProto``. Not in
    onnxruntime: ``streams=N`` bounds concurrent runs to N and splits the cores between them
    (see :mod:`sparse_runtime.engine.streams`); with ``intra_op_num_threads`` set, each stream gets
    that many threads. One session may be shared by any number of threads.
    """

    def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None,
                 streams=None, **kwargs):
        self._options = sess_options if sess_options is not None else SessionOptions()
        self._providers = _provider_names(providers)
        self._source = path_or_bytes
        self._meta = None
        model = path_or_bytes
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            import onnx  # parse once here: the metadata needs the proto and so does the Engine

            model = onnx.load_from_string(bytes(path_or_bytes))
            self._meta = ModelMetadata(model)
        elif not isinstance(path_or_bytes, (str, os.PathLike)) and hasattr(path_or_bytes, "graph"):
            self._meta = ModelMetadata(path_or_bytes)
        threads = int(self._options.intra_op_num_threads or 0) or None
        if streams is not None:
            cores = threads * streams if threads else None
            self._pool = StreamPool(model, streams=streams, cores=cores)
            self._engine = self._pool.engine
        else:
            self._pool = None
            self._engine = Engine(model, threads=threads)
        self._inputs = [_node_arg(vi) for vi in self._engine.graph.inputs]
        self._outputs = [_node_arg(vi) for vi in self._engine.graph.outputs]
        self._output_index = {o.name: i for i, o in enumerate(self._outputs)}
        self._input_dtypes = {vi.name: vi.dtype for vi in self._engine.graph.inputs if vi.dtype is not None}
        self._profiler = (ProfileRecorder(self._engine.graph, self._engine.plan)
                          if self._options.enable_profiling else None)

    # ------------------------------------------------------------------------------ describe
    def get_inputs(self):
        return list(self._inputs)

    def get_outputs(self):
        return list(self._outputs)

    def get_overridable_initializers(self):
        return []

    def get_modelmeta(self):
        if self._meta is None:  # a path: read the proto lazily, without the external weight files
            import onnx

            self._meta = ModelMetadata(onnx.load(os.fspath(self._source), load_external_data=False))
        return self._meta

    def get_providers(self):
        return list(self._providers)

    def get_provider_options(self):
        return {p: {} for p in self._providers}

    def set_providers(self, providers=None, provider_options=None):
        self._providers = _provider_names(providers)

    def get_session_options(self):
        return self._options

    # ------------------------------------------------------------------------------------ run
    def run(self, output_names, input_feed, run_options=None):
        """Outputs named in ``output_names`` (all when None or empty), as a list of arrays."""
        if not isinstance(input_feed, dict):
            raise InputError(f"input_feed must be a dict name -> array, got {type(input_feed).__name__}")
        feed = {k: self._convert(k, v) for k, v in input_feed.items()}
        picks = None
        if output_names:
            try:
                picks = [self._output_index[n] for n in output_names]
            except KeyError as e:
                raise InputError(f"invalid output name {e.args[0]!r} (model outputs: "
                                 f"{list(self._output_index)})") from None
        if self._pool is not None:
            with self._pool.stream():
                outs = self._run(feed)
        else:
            outs = self._run(feed)
        return outs if picks is None else [outs[i] for i in picks]

    def _convert(self, name, value):
        """What onnxruntime converts itself (the Engine wants the caller to): nested lists become
        arrays of the input's type, non-contiguous arrays are copied."""
        if isinstance(value, np.ndarray):
            return value if value.flags.c_contiguous else np.ascontiguousarray(value)
        if isinstance(value, (list, tuple)) and name in self._input_dtypes:
            return np.asarray(value, dtype=self._input_dtypes[name])
        return value

    def _run(self, feed):
        if self._profiler is None:
            return self._engine.run(feed)
        feeds = self._engine._validate(feed)  # same checks and messages as Engine.run
        return self._profiler.run(feeds)

    # ------------------------------------------------------------------------------ profiling
    def end_profiling(self):
        """Write the Chrome-trace JSON of the runs so far and return its path ('' when profiling
        is off, as onnxruntime does); profiling stops.

        onnxruntime's layout (engine/trace.py): a JSON array of complete events ("ph": "X",
        microseconds from the session's start), one "Session" ``model_run`` event per run and one
        "Node" event per kernel named ``<node>_kernel_time`` with ``args.op_name``, so tools
        written for its profiles read ours."""
        if self._profiler is None:
            return ""
        from .engine.trace import write_chrome_trace

        now = datetime.datetime.now()  # onnxruntime's file name: <prefix>_<date>_<time>_<ms>.json
        stamp = now.strftime("%Y-%m-%d_%H-%M-%S") + f"_{now.microsecond // 1000:03d}"
        path = write_chrome_trace(self._profiler.profile(), f"{self._options.profile_file_prefix}_{stamp}.json",
                                  provider=CPU_PROVIDER)
        self._profiler = None
        return path

    def get_profiling_start_time_ns(self):
        return self._profiler.start_wall_ns if self._profiler is not None else 0


__all__ = ["ExecutionMode", "GraphOptimizationLevel", "InferenceSession", "ModelMetadata", "NodeArg",
           "RunOptions", "SessionOptions", "get_all_providers", "get_available_providers", "get_device",
           "set_default_logger_severity"]
