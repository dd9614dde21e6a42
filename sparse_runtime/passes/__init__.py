"""Graph -> Graph passes, run in the order of ``PIPELINE``.

A pass is ``def name(graph: Graph, ctx: PassContext) -> Graph``, pure (it works on
``graph.copy()``), in its own module. To add one, import it here and insert it in ``PIPELINE``;
``ctx.options["disable_passes"]`` (names) skips passes, e.g. to bisect a miscompile.
"""
from __future__ import annotations

import logging
import time

from ..ir import Graph
from ..ir.verify import IRError, verify
from .context import PassContext
from .eliminate_dead_nodes import eliminate_dead_nodes
from .eliminate_identity import eliminate_identity
from .fold_batchnorm import fold_batchnorm
from .fold_constants import fold_constants
from .fuse_attention import fuse_attention
from .fuse_attention_heads import fuse_attention_heads
from .fuse_epilogue import fuse_epilogue
from .fuse_layernorm import fuse_layernorm
from .keep_blocked_activations import keep_blocked_activations
from .keep_token_tiles import keep_token_tiles
from .lower_linear import lower_linear
from .merge_sibling_matmuls import merge_sibling_matmuls

log = logging.getLogger(__name__)

PIPELINE = [
    fold_constants,
    eliminate_identity,
    eliminate_dead_nodes,
    fuse_layernorm,
    fuse_attention,
    merge_sibling_matmuls,
    fuse_attention_heads,
    fold_batchnorm,
    lower_linear,
    fuse_epilogue,
    keep_token_tiles,
    keep_blocked_activations,
    eliminate_dead_nodes,  # again: drops the dense weights and biases the packed nodes replaced
]


def run_pipeline(graph: Graph, ctx: PassContext, passes=None) -> Graph:
    """Run ``passes`` (default: PIPELINE) in order; with ``ctx.debug``, verify the IR after each."""
    skip = set(ctx.options.get("disable_passes", ()))
    if ctx.debug:
        verify(graph)
    for p in (PIPELINE if passes is None else passes):
        name = getattr(p, "__name__", repr(p))
        if name in skip:
            continue
        t0 = time.perf_counter()
        out = p(graph, ctx)
        if not isinstance(out, Graph):
            raise TypeError(f"pass '{name}' returned {type(out).__name__}, expected a Graph")
        if ctx.debug:
            log.debug("pass %s: %d -> %d nodes in %.1f ms", name, len(graph.nodes), len(out.nodes),
                      (time.perf_counter() - t0) * 1e3)
            try:
                verify(out)
            except IRError as e:
                raise IRError(f"after pass '{name}': {e}") from e
        graph = out
    return graph


__all__ = ["PIPELINE", "PassContext", "run_pipeline", "fold_constants", "eliminate_identity",
           "eliminate_dead_nodes", "fuse_layernorm", "fuse_attention", "fold_batchnorm", "lower_linear", "fuse_epilogue"]
