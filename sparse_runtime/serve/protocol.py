"""Open Inference Protocol (KServe v2 / Triton HTTP) codec: bytes <-> numpy, no web framework.

Request body: a JSON header, optionally followed by raw tensors (the binary tensor extension).
With binary data the ``Inference-Header-Content-Length`` header gives the JSON's length and each
binary input carries ``parameters.binary_data_size``; their bytes follow in input order.
Every problem with a request raises :class:`ProtocolError` with a message for the client.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

# v2 datatype <-> numpy (little-endian on the wire, as the protocol says)
DATATYPES = {
    "BOOL": np.dtype(np.bool_), "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"), "UINT64": np.dtype("<u8"), "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"), "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
}
_NAME_OF = {dt: name for name, dt in DATATYPES.items()}


class ProtocolError(Exception):
    """A bad request; ``status`` is the HTTP code to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def datatype_of(dtype) -> str:
    if dtype is None:
        return "UNKNOWN"
    dtype = np.dtype(dtype)
    if dtype.kind in ("U", "S", "O"):
        return "BYTES"
    return _NAME_OF.get(dtype.newbyteorder("<") if dtype.byteorder == ">" else dtype, "UNKNOWN")


@dataclass
class TensorSpec:
    """A model input or output: ``shape`` holds ints, or None for a dynamic dim; None = any rank."""

    name: str
    dtype: Optional[np.dtype]
    shape: Optional[tuple]

    @classmethod
    def from_value_info(cls, vi):
        shape = None if vi.shape is None else tuple(d if isinstance(d, int) else None for d in vi.shape)
        return cls(vi.name, None if vi.dtype is None else np.dtype(vi.dtype), shape)

    def metadata(self) -> dict:
        # v2 metadata: -1 marks a dynamic dim; an unknown rank has no way to be said, [-1] is closest
        shape = [-1] if self.shape is None else [-1 if d is None else d for d in self.shape]
        return {"name": self.name, "datatype": datatype_of(self.dtype), "shape": shape}


@dataclass
class InferRequest:
    id: Optional[str]
    feeds: list  # np.ndarray per model input, in the model's input order
    outputs: list  # (output index, binary?) in the order to answer with


def _json_error(what, e):
    return ProtocolError(f"malformed {what}: {e}")


def _shape_of(t, where):
    shape = t.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in shape):
        raise ProtocolError(f"{where}: 'shape' must be a list of non-negative ints, got {shape!r}")
    return tuple(shape)


def _check_against(spec: TensorSpec, datatype, shape, where):
    expected = datatype_of(spec.dtype)
    if spec.dtype is not None and datatype != expected:
        raise ProtocolError(f"{where}: datatype {datatype}, the model expects {expected}")
    if spec.shape is not None:
        want = spec.metadata()["shape"]
        if len(shape) != len(spec.shape) or any(d is not None and d != s for d, s in zip(spec.shape, shape)):
            raise ProtocolError(f"{where}: shape {list(shape)}, the model expects {want} (-1: any size)")


def decode_request(body: bytes, header_length: Optional[int], inputs: list, outputs: list) -> InferRequest:
    """Parse and validate an infer request against the model's ``inputs``/``outputs`` specs."""
    if header_length is None:
        header_length = len(body)
    if not 0 <= header_length <= len(body):
        raise ProtocolError(f"Inference-Header-Content-Length {header_length} is outside the body "
                            f"({len(body)} bytes)")
    try:
        req = json.loads(body[:header_length])
    except (ValueError, UnicodeDecodeError) as e:
        raise _json_error("JSON request", e) from None
    if not isinstance(req, dict) or not isinstance(req.get("inputs"), list):
        raise ProtocolError("the request must be a JSON object with an 'inputs' list")
    params = req.get("parameters") or {}
    if not isinstance(params, dict):
        raise ProtocolError("'parameters' must be an object")

    by_name = {s.name: i for i, s in enumerate(inputs)}
    feeds = [None] * len(inputs)
    binary = memoryview(body)[header_length:]
    offset = 0
    for t in req["inputs"]:
        if not isinstance(t, dict) or not isinstance(t.get("name"), str):
            raise ProtocolError("every input must be an object with a 'name'")
        name = t["name"]
        where = f"input '{name}'"
        if name not in by_name:
            raise ProtocolError(f"unknown input '{name}' (model inputs: {list(by_name)})")
        idx = by_name[name]
        if feeds[idx] is not None:
            raise ProtocolError(f"{where} given twice")
        datatype = t.get("datatype")
        if datatype == "BYTES":
            raise ProtocolError(f"{where}: BYTES tensors are not supported")
        if datatype not in DATATYPES:
            raise ProtocolError(f"{where}: unknown datatype {datatype!r} (one of {sorted(DATATYPES)})")
        shape = _shape_of(t, where)
        _check_against(inputs[idx], datatype, shape, where)
        dtype = DATATYPES[datatype]
        count = math.prod(shape)
        tparams = t.get("parameters") or {}
        if not isinstance(tparams, dict):
            raise ProtocolError(f"{where}: 'parameters' must be an object")
        if "shared_memory_region" in tparams:
            raise ProtocolError(f"{where}: shared-memory tensors are not supported")
        size = tparams.get("binary_data_size")
        if size is not None:
            if not isinstance(size, int) or size != count * dtype.itemsize:
                raise ProtocolError(f"{where}: binary_data_size {size!r}, a {datatype} tensor of shape "
                                    f"{list(shape)} has {count * dtype.itemsize} bytes")
            if offset + size > len(binary):
                raise ProtocolError(f"{where}: binary data ends after {len(binary) - offset} of {size} bytes")
            # a copy: aligned and writable, and it does not pin the whole request body
            arr = np.frombuffer(binary[offset:offset + size], dtype=dtype).reshape(shape).copy()
            offset += size
        else:
            if "data" not in t:
                raise ProtocolError(f"{where}: no 'data' and no binary_data_size parameter")
            try:
                arr = np.asarray(t["data"], dtype=dtype)
            except (ValueError, TypeError, OverflowError) as e:
                raise ProtocolError(f"{where}: 'data' is not a list of {datatype} values: {e}") from None
            if arr.size != count:
                raise ProtocolError(f"{where}: 'data' has {arr.size} elements, shape {list(shape)} needs {count}")
            arr = np.ascontiguousarray(arr.reshape(shape))
        feeds[idx] = arr
    if offset != len(binary):
        raise ProtocolError(f"{len(binary) - offset} bytes of binary data after the header are not "
                            "claimed by any input's binary_data_size")
    missing = [s.name for s, f in zip(inputs, feeds) if f is None]
    if missing:
        raise ProtocolError(f"missing input(s) {missing} (model inputs: {list(by_name)})")

    default_binary = bool(params.get("binary_data_output", False))
    out_index = {s.name: i for i, s in enumerate(outputs)}
    wanted = req.get("outputs")
    if wanted is None:
        picks = [(i, default_binary) for i in range(len(outputs))]
    else:
        if not isinstance(wanted, list):
            raise ProtocolError("'outputs' must be a list")
        picks = []
        for o in wanted:
            if not isinstance(o, dict) or o.get("name") not in out_index:
                name = o.get("name") if isinstance(o, dict) else o
                raise ProtocolError(f"unknown output {name!r} (model outputs: {list(out_index)})")
            oparams = o.get("parameters") or {}
            if "classification" in oparams or "shared_memory_region" in oparams:
                raise ProtocolError(f"output '{o['name']}': classification and shared-memory outputs "
                                    "are not supported")
            picks.append((out_index[o["name"]], bool(oparams.get("binary_data", default_binary))))
    rid = req.get("id")
    return InferRequest(id=None if rid is None else str(rid), feeds=feeds, outputs=picks)


def encode_response(model_name: str, version: str, request: InferRequest, names: list,
                    arrays: list) -> tuple:
    """(body bytes, extra headers): JSON, or JSON + raw tensors when any output is binary."""
    outs, blobs = [], []
    for idx, as_binary in request.outputs:
        arr = arrays[idx]
        entry = {"name": names[idx], "datatype": datatype_of(arr.dtype), "shape": list(arr.shape)}
        if as_binary:
            blob = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = arr.ravel().tolist()
        outs.append(entry)
    resp = {"model_name": model_name, "model_version": version, "outputs": outs}
    if request.id is not None:
        resp["id"] = request.id
    header = json.dumps(resp, separators=(",", ":")).encode()
    if not blobs:
        return header, {"content-type": "application/json"}
    return b"".join([header, *blobs]), {"content-type": "application/octet-stream",
                                         "inference-header-content-length": str(len(header))}
