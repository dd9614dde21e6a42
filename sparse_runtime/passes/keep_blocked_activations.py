"""Let dense convolutions hand activations over channel-blocked ([N, C/32, H, W, 32]).

On NCHW activations each dense conv transposes its tiles ([pixel][32 outputs]) into 32 rows a
plane apart, and the next 1x1 conv copies its input into tiles again. Blocked, a tile is stored as
one contiguous run and read in place (ops/_blocked.py, csrc/ops/conv_blocked.cc): ResNet-50's
layers ran 6 % faster summed, the 56x56 1x1 layers 13-18 % (2 threads).

A value is kept blocked when its producer can write it so and every reader can read it so:
- writers: a 2-D PackedConv of one group of dense weights (and a residual, if any, of its output's
  inferred shape); MaxPool (2-D, no Indices) of a blocked value;
- readers: such a PackedConv (as input, or as residual when its own output is blocked: the kernel
  sums the residual in the output's layout), such a MaxPool (its output blocked, or NCHW with each
  pooled row transposed on its way out), and GlobalAverage/Max/LpPool (they reduce to NCHW).
Graph outputs stay NCHW. The rules are applied until nothing changes, since dropping one value
can drop others (a residual, a conv's output). Off in debug mode, whose checks want ONNX values.
The marks are attributes: PackedConv's ``x_blocked`` / ``y_blocked``, and on the pooling nodes
``layout="blocked"`` (blocked in and out) or, for a MaxPool whose output stays NCHW,
``layout="blocked_in"`` (not ONNX attributes; only this pass sets them). That is ResNet-50 pruned
(sparse convs read NCHW): its stem writes blocked, saving the stem's transposes, and the pool
runs on blocked planes.
"""
from __future__ import annotations

from ..ir import Graph
from .context import PassContext

_GLOBAL_POOLS = ("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool")


def _is_dense_conv(node) -> bool:
    if node.op_type != "PackedConv" or node.domain != "sparse_runtime":
        return False
    weights = node.attrs["weights"]
    return len(node.attrs["kernel_shape"]) == 2 and len(weights) == 1 and weights[0].format == "dense"


def _residual_fits(g, node) -> bool:
    """No residual, or one whose inferred shape is the conv output's: the blocked kernels add a
    residual of exactly that shape, while fuse_epilogue also fuses one that broadcasts (the NCHW
    kernel adds that the ONNX way)."""
    if len(node.inputs) < 2 or not node.inputs[1]:
        return True
    r, y = g.value_info.get(node.inputs[1]), g.value_info.get(node.outputs[0])
    return (r is not None and y is not None and r.shape is not None and y.shape is not None
            and None not in r.shape and tuple(r.shape) == tuple(y.shape))


def _is_max_pool(node) -> bool:
    outputs = [o for o in node.outputs[1:] if o]  # Indices wanted: NCHW only
    return (node.op_type == "MaxPool" and node.domain in ("", "ai.onnx") and not outputs
            and len(node.attrs.get("kernel_shape") or ()) == 2)


def _is_global_pool(node) -> bool:
    return node.op_type in _GLOBAL_POOLS and node.domain in ("", "ai.onnx")


def keep_blocked_activations(graph: Graph, ctx: PassContext) -> Graph:
    g = graph.copy()
    if ctx.debug:
        return g
    consumers = g.consumers()
    producers = g.producers()
    graph_outputs = {o.name for o in g.outputs}
    convs = {id(n) for n in g.nodes if _is_dense_conv(n) and _residual_fits(g, n)}

    def _is_dense_conv_here(node) -> bool:
        return id(node) in convs

    blocked = {n.outputs[0] for n in g.nodes if _is_dense_conv_here(n) or _is_max_pool(n)}

    def read_blocked(value, reader) -> bool:
        if _is_global_pool(reader):
            return reader.inputs[0] == value
        if _is_max_pool(reader):
            return True
        if _is_dense_conv_here(reader):
            as_residual = len(reader.inputs) > 1 and reader.inputs[1] == value
            return not as_residual or reader.outputs[0] in blocked
        return False

    def written_blocked(value) -> bool:
        node = producers[value]
        if _is_max_pool(node):
            return node.inputs[0] in blocked
        residual = node.inputs[1] if len(node.inputs) > 1 else ""
        return not residual or residual in blocked

    changed = True
    while changed:
        changed = False
        for value in sorted(blocked):
            if (value in graph_outputs or not written_blocked(value)
                    or not all(read_blocked(value, r) for r in consumers.get(value, []))):
                blocked.discard(value)
                changed = True
    for node in g.nodes:
        if _is_dense_conv_here(node):
            x_blocked, y_blocked = node.inputs[0] in blocked, node.outputs[0] in blocked
            if x_blocked or y_blocked:
                node.attrs = dict(node.attrs, x_blocked=x_blocked, y_blocked=y_blocked)
        elif _is_max_pool(node) and node.inputs[0] in blocked:
            node.attrs = dict(node.attrs, layout="blocked" if node.outputs[0] in blocked else "blocked_in")
        elif _is_global_pool(node) and node.inputs[0] in blocked:
            node.attrs = dict(node.attrs, layout="blocked")
    return g
