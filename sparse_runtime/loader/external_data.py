"""Checked loading of tensors stored outside the .onnx file (``save_as_external_data=True``).

Every ``location`` is validated *before* any byte is read: it must be a relative path that stays
inside the model's folder after resolving symlinks, name an existing regular file, and
``offset + length`` must fit in that file. A model is untrusted input; a location such as
``../../etc/passwd`` must never be opened.
"""
from __future__ import annotations

import os

import numpy as np
from onnx import TensorProto, helper

from ..errors import ModelLoadError


def iter_tensors(graph):
    """Every TensorProto of the top-level graph that may carry external data."""
    yield from graph.initializer
    for sp in graph.sparse_initializer:
        yield sp.values
        yield sp.indices
    for node in graph.node:
        for a in node.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors


def has_external(tensor) -> bool:
    return tensor.data_location == TensorProto.EXTERNAL


def _info(tensor, where):
    info = {e.key: e.value for e in tensor.external_data}
    if not info.get("location"):
        raise ModelLoadError(f"{where}: tensor '{tensor.name}' is stored externally but has no 'location'")
    for key in ("offset", "length"):
        if key in info:
            try:
                info[key] = int(info[key])
            except ValueError:
                raise ModelLoadError(f"{where}: tensor '{tensor.name}': external data {key} "
                                     f"{info[key]!r} is not an integer") from None
            if info[key] < 0:
                raise ModelLoadError(f"{where}: tensor '{tensor.name}': external data {key} "
                                     f"{info[key]} is negative")
    return info


def _expected_nbytes(tensor):
    if tensor.data_type in (TensorProto.STRING, TensorProto.UNDEFINED):
        return None
    try:
        itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
    except Exception:
        return None
    if tensor.data_type in (TensorProto.INT4, TensorProto.UINT4):
        return None  # packed two per byte; the checker validates these
    return int(np.prod(tensor.dims, dtype=np.int64)) * itemsize


def resolve_location(tensor, base_dir: str, where: str) -> tuple:
    """Validate one external tensor; return (real file path, offset, length or None)."""
    info = _info(tensor, where)
    loc = info["location"]
    name = tensor.name
    if os.path.isabs(loc) or loc.startswith(("/", "\\")) or os.path.splitdrive(loc)[0]:
        raise ModelLoadError(f"{where}: tensor '{name}': external data location '{loc}' is an absolute "
                             "path; it must be relative to the model's folder")
    parts = loc.replace("\\", "/").split("/")
    if ".." in parts:
        raise ModelLoadError(f"{where}: tensor '{name}': external data location '{loc}' contains '..'; "
                             "it must stay inside the model's folder")
    base_real = os.path.realpath(base_dir)
    path = os.path.realpath(os.path.join(base_real, loc))
    if os.path.commonpath([base_real, path]) != base_real:
        raise ModelLoadError(f"{where}: tensor '{name}': external data location '{loc}' resolves to "
                             f"'{path}', outside the model's folder '{base_real}' (symlink?)")
    if not os.path.exists(path):
        raise ModelLoadError(f"{where}: tensor '{name}': external data file '{loc}' does not exist "
                             f"(looked for '{path}')")
    if not os.path.isfile(path):
        raise ModelLoadError(f"{where}: tensor '{name}': external data location '{loc}' is not a file")
    size = os.path.getsize(path)
    offset = info.get("offset", 0)
    length = info.get("length")
    expected = _expected_nbytes(tensor)
    if length is not None and expected is not None and length != expected:
        raise ModelLoadError(f"{where}: tensor '{name}': external data length {length} does not match "
                             f"its shape {list(tensor.dims)} ({expected} bytes)")
    need = length if length is not None else expected
    if offset > size or (need is not None and offset + need > size):
        raise ModelLoadError(f"{where}: tensor '{name}': external data file '{loc}' is too short: "
                             f"needs bytes [{offset}, {offset + (need or 0)}) but has {size} bytes "
                             "(truncated?)")
    return path, offset, length


def load_external_data(model, base_dir: str, where: str) -> None:
    """Check every external location first, then read the bytes into ``raw_data`` (in place)."""
    todo = [(t, resolve_location(t, base_dir, where)) for t in iter_tensors(model.graph) if has_external(t)]
    files = {}
    try:
        for tensor, (path, offset, length) in todo:
            f = files.get(path)
            if f is None:
                f = files[path] = open(path, "rb")
            f.seek(offset)
            data = f.read() if length is None else f.read(length)
            if length is not None and len(data) != length:
                raise ModelLoadError(f"{where}: tensor '{tensor.name}': could read only {len(data)} of "
                                     f"{length} bytes from '{path}'")
            tensor.raw_data = data
            del tensor.external_data[:]
            tensor.data_location = TensorProto.DEFAULT
    except OSError as e:
        raise ModelLoadError(f"{where}: cannot read external data: {e}") from e
    finally:
        for f in files.values():
            f.close()


def reject_external(model, where: str) -> None:
    """In-memory models have no folder to resolve external locations against."""
    for t in iter_tensors(model.graph):
        if has_external(t):
            raise ModelLoadError(
                f"{where}: tensor '{t.name}' refers to external data, which cannot be resolved for a model "
                "given as bytes/ModelProto; pass the path of the .onnx file instead (or load it with "
                "onnx.load(path) first)")
