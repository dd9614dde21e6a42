"""Random but valid inputs for benchmarking a model, and the ``--input-shapes`` string.

Rules: floats ~ N(0, 1); int inputs named like masks get ones, token-type/segment ids zeros,
position ids 0..n-1, other ids small random values below the vocabulary size found in the
model's Gather tables (at most 1000). Symbolic dims: the first (batch) dim takes the batch size
or 1, sequence-like dims 128, other symbolic dims 1; each such choice is reported as a note.
``--input-shapes`` overrides all of this for the inputs it names.
"""
from __future__ import annotations

import difflib
import re
from typing import Optional

import numpy as np

DEFAULT_SEQ = 128
_SEQ_RE = re.compile(r"seq|sequence|len|length|token|position|time|step", re.I)
_MAX_RANDOM_ID = 1000


class BenchError(Exception):
    """A benchmark could not run; the message is one line meant for the user."""


class InputShapesError(BenchError):
    """``--input-shapes`` is malformed, names an unknown input or contradicts the model."""


def parse_input_shapes(text: str) -> dict:
    """``"input_ids:1,128;mask:1,128"`` -> ``{"input_ids": (1, 128), "mask": (1, 128)}``.

    Spaces, a trailing ';' and 'x' between dims ("1x3x224x224") are accepted because people type
    these by hand; anything else raises InputShapesError saying which part is wrong."""
    shapes: dict = {}
    for part in (p.strip() for p in str(text).split(";")):
        if not part:
            continue
        name, sep, dims = part.rpartition(":")
        name = name.strip()
        if not sep or not name:
            raise InputShapesError(f"bad --input-shapes entry {part!r}: expected name:d0,d1,... "
                             "(e.g. \"input_ids:1,128;attention_mask:1,128\")")
        try:  # "1,128" or "1x128"; an empty or non-integer dim is an error, not skipped
            shape = tuple(int(d) for d in re.split(r"\s*[,x]\s*", dims.strip()))
        except ValueError:
            raise InputShapesError(f"bad --input-shapes entry {part!r}: dimensions must be integers") from None
        if not shape or any(d < 1 for d in shape):
            raise InputShapesError(f"bad --input-shapes entry {part!r}: need at least one dimension, all >= 1")
        if name in shapes:
            raise InputShapesError(f"bad --input-shapes: input '{name}' is given twice")
        shapes[name] = shape
    if not shapes:
        raise InputShapesError(f"bad --input-shapes {text!r}: no name:shape entry found")
    return shapes


def vocab_sizes(graph) -> dict:
    """input name -> rows of the constant table a Gather indexes with it (embedding vocab)."""
    out: dict = {}
    for n in graph.nodes:
        if n.op_type != "Gather" or len(n.inputs) < 2:
            continue
        table = graph.initializers.get(n.inputs[0])
        if table is None or table.ndim == 0:
            continue
        rows = int(table.shape[int(n.attrs.get("axis", 0))])
        out[n.inputs[1]] = min(out.get(n.inputs[1], rows), rows)
    return out


def _check_override(name: str, shape, want: tuple) -> tuple:
    """An --input-shapes entry may fix symbolic dims, not contradict the model's static ones."""
    if shape is not None:
        if len(shape) != len(want):
            raise InputShapesError(f"--input-shapes gives input '{name}' rank {len(want)} {want}, the model "
                             f"declares rank {len(shape)} {tuple(shape)}")
        for ax, (d, w) in enumerate(zip(shape, want)):
            if isinstance(d, (int, np.integer)) and d >= 0 and d != w:
                raise InputShapesError(f"--input-shapes gives input '{name}' dim {ax} = {w}, but the model "
                                 f"fixes it at {d} (shape {tuple(shape)})")
    return want


def _resolve_shape(name: str, shape, batch_size: Optional[int], notes: list) -> tuple:
    if shape is None:
        raise BenchError(f"input '{name}' has unknown rank; cannot generate data for it "
                         "(give its shape with --input-shapes)")
    dims = []
    for ax, d in enumerate(shape):
        if isinstance(d, (int, np.integer)) and d >= 0:
            dims.append(int(d))
            continue
        label = f"'{d}'" if isinstance(d, str) and d else "?"
        if ax == 0:
            v = batch_size or 1
            notes.append(f"input '{name}' dim 0 ({label}) is symbolic: using batch {v}"
                         + ("" if batch_size else " (set it with -b)"))
        elif isinstance(d, str) and _SEQ_RE.search(d) or len(shape) == 2:
            v = DEFAULT_SEQ
            notes.append(f"input '{name}' dim {ax} ({label}) is symbolic: using sequence length {v}")
        else:
            v = 1
            notes.append(f"input '{name}' dim {ax} ({label}) is symbolic: using 1")
        dims.append(v)
    return tuple(dims)


def make_inputs(names, shapes, dtypes, batch_size: Optional[int] = None, vocab: Optional[dict] = None,
                seed: int = 0, notes: Optional[list] = None, overrides: Optional[dict] = None) -> dict:
    """Random, valid inputs for a model: name -> array (see the module docstring for the rules).
    ``overrides``: name -> shape from ``--input-shapes``; an unknown name raises BenchError."""
    rng = np.random.default_rng(seed)
    notes = notes if notes is not None else []
    vocab = vocab or {}
    overrides = dict(overrides or {})
    unknown = [k for k in overrides if k not in list(names)]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(names), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputShapesError(f"unknown input {unknown[0]!r} in --input-shapes{hint} (model inputs: {list(names)})")
    feeds = {}
    for name, shape, dtype in zip(names, shapes, dtypes):
        dt = np.dtype(dtype) if dtype is not None else np.dtype(np.float32)
        if name in overrides:
            shp = _check_override(name, shape, overrides[name])
        else:
            shp = _resolve_shape(name, shape, batch_size, notes)
        low = name.lower()
        if dt.kind == "f":
            a = rng.standard_normal(shp).astype(dt)
        elif dt.kind == "b":
            a = np.ones(shp, dt)
        elif dt.kind in "iu":
            if "mask" in low:
                a = np.ones(shp, dt)
            elif "token_type" in low or "segment" in low:
                a = np.zeros(shp, dt)
            elif "position" in low and shp:
                a = np.broadcast_to(np.arange(shp[-1], dtype=dt), shp).copy()
            elif "id" in low or name in vocab:
                hi = max(1, min(vocab.get(name, _MAX_RANDOM_ID), _MAX_RANDOM_ID))
                a = rng.integers(0, hi, shp).astype(dt)
            else:
                a = np.zeros(shp, dt)
                notes.append(f"input '{name}' ({dt}) has no recognised role: feeding zeros")
        else:
            raise BenchError(f"input '{name}' has dtype {dt}, which sparse-bench cannot generate")
        feeds[name] = np.ascontiguousarray(a)
    return feeds
