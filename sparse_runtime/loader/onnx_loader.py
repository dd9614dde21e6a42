"""ONNX file / bytes / ModelProto -> validated IR Graph.

Order matters: cheap structural checks first (so a truncated file gets a clear message rather
than a checker stack), external locations validated before any external byte is read, nodes
sorted before the checker (which rejects unsorted graphs), shape inference last.
"""
from __future__ import annotations

import logging
import os

import numpy as np
import onnx
import onnx.inliner
from onnx import AttributeProto, TensorProto, helper

from ..errors import ModelLoadError, UnsupportedOpError
from ..ir import Graph, Node, ValueInfo
from ..ir.verify import IRError, toposort, verify
from ..ops.attributes import decode_attribute, sparse_to_array, tensor_to_array
from .external_data import load_external_data, reject_external

log = logging.getLogger(__name__)

MIN_OPSET = 7
# Initializers with more elements than this are handed to shape inference as typed inputs rather
# than data: inference needs their shapes, not their bytes, and skipping them avoids copying weights.
_INFERENCE_INLINE_ELEMS = 1024
# Checker complaints that do not make a model unrunnable (exporters often omit output shapes).
_TOLERATED_CHECKER_ERRORS = ("Field 'shape' of 'type' is required but missing",
                             "Field 'type' of 'value_info' is required but missing")


def load_model(source, *, batch_size=None) -> Graph:
    """Load an ONNX model into a validated, topologically sorted :class:`Graph`.

    ``source``: a path (str / os.PathLike), the serialized bytes, or an ``onnx.ModelProto`` (not
    modified). ``batch_size``: if given, the first dimension of every real input of rank >= 1 is
    set to it before shape inference (so shape-dependent constant folding sees the right batch).

    Raises ModelLoadError (naming the file and the problem) for unreadable, corrupt, invalid or
    unsafe models, and UnsupportedOpError for operators/features that cannot run here.
    """
    model, where, base_dir = _read(source)
    _check_header(model, where)
    if base_dir is not None:
        load_external_data(model, base_dir, where)
    else:
        reject_external(model, where)
    if len(model.functions):
        try:
            model = onnx.inliner.inline_local_functions(model)
        except Exception as e:
            raise ModelLoadError(f"{where}: cannot inline model-local functions: {e}") from e
    g = model.graph

    nodes = [_convert_node(p, where) for p in g.node]
    initializers = _convert_initializers(g, where)
    input_protos = [vi for vi in g.input if vi.name not in initializers]  # IR<4 lists weights as inputs
    available = {vi.name for vi in input_protos} | set(initializers)
    try:
        order = toposort(nodes, available)
    except IRError as e:
        raise ModelLoadError(f"{where}: {e}") from e
    if order is not nodes:
        pos = {id(n): i for i, n in enumerate(nodes)}
        protos = [g.node[pos[id(n)]] for n in order]
        protos = [_copy_proto(p) for p in protos]
        del g.node[:]
        g.node.extend(protos)
        nodes = order

    _run_checker(model, where, source)
    if batch_size is not None:
        _override_batch(g, initializers, batch_size, where)
    inferred = _infer_shapes(model, where)

    value_info = {}
    for vi in list(inferred.value_info) + list(inferred.input) + list(inferred.output):
        value_info[vi.name] = _value_info(vi)
    for name, arr in initializers.items():
        value_info[name] = ValueInfo(name, arr.dtype, tuple(arr.shape))
    inputs = [value_info.get(vi.name) or _value_info(vi) for vi in input_protos]
    outputs = [_merge(_value_info(vi), value_info.get(vi.name)) for vi in g.output]
    if not outputs:
        raise ModelLoadError(f"{where}: the graph has no outputs (empty graph)")

    opsets = {}
    for op in model.opset_import:
        opsets["" if op.domain in ("", "ai.onnx") else op.domain] = int(op.version)
    graph = Graph(nodes=nodes, inputs=inputs, outputs=outputs, initializers=initializers,
                  value_info=value_info, opsets=opsets, name=g.name or "graph")
    try:
        verify(graph)
    except IRError as e:
        raise ModelLoadError(f"{where}: {e}") from e
    return graph


# ---------------------------------------------------------------------------------------- reading

def _read(source):
    """-> (ModelProto we may modify, 'where' text for messages, folder for external data or None)."""
    if isinstance(source, onnx.ModelProto):
        model = onnx.ModelProto()
        model.CopyFrom(source)  # never modify the caller's proto
        return model, f"ModelProto '{source.graph.name or '?'}'", None
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _parse(bytes(source), "model bytes"), "model bytes", None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        where = f"'{path}'"
        if not os.path.exists(path):
            raise ModelLoadError(f"{where}: model file does not exist")
        if not os.path.isfile(path):
            raise ModelLoadError(f"{where}: not a file (is it a directory?)")
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ModelLoadError(f"{where}: cannot read model file: {e}") from e
        if not data:
            raise ModelLoadError(f"{where}: model file is empty (0 bytes)")
        return _parse(data, where), where, os.path.dirname(os.path.abspath(path))
    raise ModelLoadError(f"cannot load a model from {type(source).__name__}: expected a path, bytes "
                         "or onnx.ModelProto")


def _parse(data: bytes, where: str):
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as e:  # google.protobuf.message.DecodeError, RuntimeWarning from upb
        raise ModelLoadError(f"{where}: not a valid ONNX protobuf (corrupt or truncated file?): {e}") from e
    return model


def _copy_proto(p):
    q = type(p)()
    q.CopyFrom(p)
    return q


def _check_header(model, where):
    if model.ir_version <= 0 or not model.HasField("graph"):
        raise ModelLoadError(f"{where}: not an ONNX model: no ir_version or no graph "
                             "(corrupt, truncated, or not an .onnx file?)")
    if model.ir_version > onnx.IR_VERSION:
        raise ModelLoadError(f"{where}: IR version {model.ir_version} is newer than the installed onnx "
                             f"{onnx.__version__} supports ({onnx.IR_VERSION}); upgrade onnx or re-export "
                             "the model with an older IR version")
    max_opset = onnx.defs.onnx_opset_version()
    default = None
    for op in model.opset_import:
        if op.domain in ("", "ai.onnx"):
            default = int(op.version)
    if default is None:
        if model.ir_version >= 3 or any(n.domain in ("", "ai.onnx") for n in model.graph.node):
            raise ModelLoadError(f"{where}: the model imports no default-domain ('ai.onnx') opset")
    elif default > max_opset:
        raise ModelLoadError(f"{where}: opset {default} is newer than the installed onnx {onnx.__version__} "
                             f"knows (up to {max_opset}); upgrade onnx or re-export with opset <= {max_opset}")
    elif default < MIN_OPSET:
        raise ModelLoadError(f"{where}: opset {default} is too old: sparse_runtime supports opset "
                             f"{MIN_OPSET}..{max_opset}; convert it with onnx.version_converter")
    if len(model.graph.node) == 0 and len(model.graph.output) == 0:
        raise ModelLoadError(f"{where}: the graph is empty (no nodes and no outputs)")


# ----------------------------------------------------------------------------------- conversion

def _convert_node(p, where) -> Node:
    domain = "" if p.domain in ("", "ai.onnx") else p.domain
    node = Node(op_type=p.op_type, inputs=list(p.input), outputs=list(p.output), name=p.name,
                domain=domain)
    if domain == "" and not onnx.defs.has(p.op_type):
        raise UnsupportedOpError(f"{where}: {node.describe()}: operator '{p.op_type}' is not an ONNX "
                                 "operator and is not implemented by sparse_runtime")
    attrs = {}
    for a in p.attribute:
        if a.ref_attr_name:
            raise ModelLoadError(f"{where}: {node.describe()}: attribute '{a.name}' refers to a function "
                                 f"attribute '{a.ref_attr_name}' outside of a function")
        if a.type in (AttributeProto.GRAPH, AttributeProto.GRAPHS):
            raise UnsupportedOpError(f"{where}: {node.describe()}: subgraph attribute '{a.name}': control "
                                     "flow operators (If/Loop/Scan) are not supported yet")
        try:
            attrs[a.name] = decode_attribute(a)
        except Exception as e:
            raise ModelLoadError(f"{where}: {node.describe()}: cannot decode attribute '{a.name}': {e}") from e
    node.attrs = attrs
    return node


def _convert_initializers(g, where) -> dict:
    out = {}
    for t in g.initializer:
        try:
            out[t.name] = tensor_to_array(t)
        except Exception as e:
            raise ModelLoadError(f"{where}: initializer '{t.name}' (shape {list(t.dims)}) cannot be "
                                 f"decoded (truncated or corrupt data?): {e}") from e
    for sp in g.sparse_initializer:
        name = sp.values.name
        if name in out:
            raise ModelLoadError(f"{where}: sparse initializer '{name}' is also a dense initializer")
        try:
            out[name] = sparse_to_array(sp)
        except Exception as e:
            raise ModelLoadError(f"{where}: sparse initializer '{name}' (dims {list(sp.dims)}) is invalid: "
                                 f"{e}") from e
    return out


def _np_dtype(elem_type):
    if elem_type == TensorProto.UNDEFINED:
        return None
    if elem_type == TensorProto.STRING:
        return np.dtype(object)
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:
        return None


def _value_info(vi) -> ValueInfo:
    t = vi.type
    if t.WhichOneof("value") != "tensor_type":
        return ValueInfo(vi.name)
    tt = t.tensor_type
    shape = None
    if tt.HasField("shape"):
        shape = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                      for d in tt.shape.dim)
    return ValueInfo(vi.name, _np_dtype(tt.elem_type), shape)


def _merge(declared: ValueInfo, inferred) -> ValueInfo:
    """Declared graph-output info, with gaps filled from inference."""
    if inferred is None:
        return declared
    dtype = declared.dtype if declared.dtype is not None else inferred.dtype
    shape = declared.shape
    if shape is None or (inferred.shape is not None and len(inferred.shape) == len(shape)
                         and all(d is None for d in shape)):
        shape = inferred.shape
    return ValueInfo(declared.name, dtype, shape)


# ------------------------------------------------------------------------- checker and inference

def _run_checker(model, where, source):
    try:
        onnx.checker.check_model(model)
    except ValueError as e:
        if "2GB" in str(e) and isinstance(source, (str, os.PathLike)):
            try:  # too large for an in-memory check: let onnx read it from disk
                onnx.checker.check_model(os.fspath(source))
                return
            except Exception as e2:
                e = e2
        if isinstance(e, onnx.checker.ValidationError) or "2GB" not in str(e):
            _checker_failed(e, where)
        log.warning("%s: model too large for the onnx checker; skipped", where)
    except Exception as e:
        _checker_failed(e, where)


def _checker_failed(e, where):
    msg = str(e).strip()
    if any(msg.startswith(t) for t in _TOLERATED_CHECKER_ERRORS):
        log.info("%s: onnx checker: %s (tolerated)", where, msg.splitlines()[0])
        return
    raise ModelLoadError(f"{where}: invalid ONNX model (onnx.checker): {msg}") from e


def _override_batch(g, initializers, batch_size, where):
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise ModelLoadError(f"{where}: batch_size must be a positive int, got {batch_size!r}")
    changed = False
    for vi in g.input:
        if vi.name in initializers or vi.type.WhichOneof("value") != "tensor_type":
            continue
        tt = vi.type.tensor_type
        if not tt.HasField("shape") or len(tt.shape.dim) == 0:
            continue
        d = tt.shape.dim[0]
        if d.HasField("dim_value") and d.dim_value == batch_size:
            continue
        d.dim_value = int(batch_size)  # clears dim_param (oneof)
        changed = True
    if changed:
        # Declared intermediate/output shapes carry the old batch; let inference recompute them.
        del g.value_info[:]
        for vi in g.output:
            if vi.type.WhichOneof("value") == "tensor_type":
                vi.type.tensor_type.ClearField("shape")


def _infer_shapes(model, where):
    """Non-strict shape inference on a weight-free copy; returns the inferred GraphProto."""
    g = model.graph
    m = onnx.ModelProto()
    m.ir_version = model.ir_version
    m.opset_import.extend(model.opset_import)
    ng = m.graph
    ng.name = g.name
    ng.node.extend(g.node)
    ng.input.extend(g.input)
    ng.output.extend(g.output)
    ng.value_info.extend(g.value_info)
    listed = {vi.name for vi in g.input}
    for t in g.initializer:
        if int(np.prod(t.dims, dtype=np.int64)) <= _INFERENCE_INLINE_ELEMS:
            ng.initializer.append(t)
        elif t.name not in listed:
            ng.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    for sp in g.sparse_initializer:
        if sp.values.name not in listed:
            ng.input.append(helper.make_tensor_value_info(sp.values.name, sp.values.data_type, list(sp.dims)))
    try:
        return onnx.shape_inference.infer_shapes(m, strict_mode=False, data_prop=True).graph
    except Exception as e:
        log.warning("%s: shape inference failed, continuing without it: %s", where, e)
        return g
