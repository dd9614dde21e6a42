"""Gradual magnitude pruning while training a PyTorch model (needs the ``[torch]`` extra).

    pruner = GradualPruner(model, PolynomialDecay(0.0, 0.9, begin_step=0, end_step=1000, frequency=50))
    for x, y in data:
        loss_fn(model(x), y).backward()
        optimizer.step(); optimizer.zero_grad()
        pruner.step()                  # after every optimizer step: update masks on schedule, re-apply
    pruner.strip()                     # zeros become plain weights; no hooks or buffers left behind
    export_onnx(model, (example,), "pruned.onnx")   # then Engine("pruned.onnx")

Masks are recomputed only on the schedule's pruning steps, from the magnitudes of the weights as
masked so far (a pruned weight scores 0, so masks only grow, as in TFMOT), and re-applied after
every optimizer step so that the update of a pruned weight is thrown away. The weights are
modified in place: no parametrization, so the model keeps its modules and exports as usual.

torch is imported lazily, inside the functions: the package imports without it.
"""
from __future__ import annotations

import re
import warnings
from typing import Optional

import numpy as np

from .allocate import allocate_global
from .patterns import canonical, check_sparsity, mask_from_scores


def _torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("gradual pruning needs PyTorch: pip install 'sparse_runtime[torch]'") from e
    return torch


def select_modules(model, exclude=None, exclude_types=(), include_first_conv=False,
                   include_classifier=False) -> list:
    """[(qualified name, module, layout, excluded reason or None)] for Linear and Conv modules, in
    registration order. As for ONNX models, the first conv and the classifier (the last Linear)
    are kept dense unless asked; ``exclude`` regexes match the qualified name."""
    torch = _torch()
    nn = torch.nn
    found = [(n, m, "NK" if isinstance(m, nn.Linear) else "OIHW") for n, m in model.named_modules()
             if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))]
    pats = [re.compile(p) for p in ([exclude] if isinstance(exclude, str) else (exclude or ()))]
    types = {t.lower() for t in exclude_types}
    first_conv = next((n for n, _, lay in found if lay == "OIHW"), None)
    last_linear = next((n for n, _, lay in reversed(found) if lay == "NK"), None)
    out = []
    for n, m, lay in found:
        why = None
        hit = next((p.pattern for p in pats if p.search(n)), None)
        if hit is not None:
            why = f"exclude {hit!r}"
        elif type(m).__name__.lower() in types:
            why = f"type {type(m).__name__} excluded"
        elif n == first_conv and not include_first_conv:
            why = "first conv"
        elif n == last_linear and not include_classifier:
            why = "classifier"
        out.append((n, m, lay, why))
    return out


class GradualPruner:
    """Prunes the Linear/Conv weights of ``model`` following ``schedule`` (see :mod:`.schedules`).

    ``pattern``: unstructured | 4x1 | 1x4 | 2:4 | channel (2:4 is applied as soon as the schedule
    asks for any sparsity > 0). ``scope``: "layer" or "global" (one magnitude threshold).
    """

    def __init__(self, model, schedule, pattern: str = "unstructured", scope: str = "layer", exclude=None,
                 exclude_types=(), include_first_conv: bool = False, include_classifier: bool = False):
        torch = _torch()
        check_sparsity(0.5 if pattern == "2:4" else 0.0, pattern)
        if scope not in ("layer", "global"):
            raise ValueError(f"unknown scope {scope!r}; expected 'layer' or 'global'")
        self.model, self.schedule, self.pattern, self.scope = model, schedule, pattern, scope
        self.modules = select_modules(model, exclude, exclude_types, include_first_conv, include_classifier)
        self.masks = {n: torch.ones_like(m.weight, dtype=torch.bool)
                      for n, m, _, why in self.modules if why is None}
        self.step_count = 0
        self.sparsity = 0.0  # the schedule's value at the last mask update
        self._stripped = False

    def _active(self):
        return [(n, m, lay) for n, m, lay, why in self.modules if why is None]

    def update_masks(self, sparsity: float) -> None:
        """Recompute every mask at ``sparsity`` from the (already masked) weight magnitudes."""
        torch = _torch()
        if self.pattern == "2:4":
            if sparsity <= 0:
                return
            sparsity = 0.5
        active = self._active()
        scores = [np.abs((m.weight.detach() * self.masks[n]).cpu().numpy()) for n, m, _ in active]
        if self.scope == "global":
            shares = allocate_global([canonical(s, lay) for s, (_, _, lay) in zip(scores, active)],
                                     sparsity, self.pattern)
        else:
            shares = [sparsity] * len(active)
        for (n, m, lay), sc, share in zip(active, scores, shares):
            keep = mask_from_scores(sc, share, self.pattern, lay)
            self.masks[n] = torch.from_numpy(keep).to(m.weight.device)
        self.sparsity = float(sparsity)

    def apply_masks(self) -> None:
        torch = _torch()
        with torch.no_grad():
            for n, m, _ in self._active():
                m.weight.mul_(self.masks[n])

    def step(self) -> bool:
        """Call once after every ``optimizer.step()``. Returns True if the masks were recomputed."""
        if self._stripped:
            raise RuntimeError("GradualPruner.step() after strip()")
        should, sparsity = self.schedule(self.step_count)
        if should:
            self.update_masks(sparsity)
        self.apply_masks()
        self.step_count += 1
        return should

    def strip(self):
        """Make the zeros permanent and drop the masks; returns the model (plain modules)."""
        self.apply_masks()
        self.masks = {}
        self._stripped = True
        return self.model

    def report(self) -> list:
        """[(name, params, nonzeros, excluded reason or None)] for every Linear/Conv module."""
        return [(n, int(m.weight.numel()), int((m.weight != 0).sum()), why) for n, m, _, why in self.modules]


def export_onnx(model, args: tuple, path: str, input_names=("input",), output_names=("output",),
                dynamic_batch: bool = True, opset: Optional[int] = 17) -> str:
    """``torch.onnx.export`` with the TorchScript exporter (no onnxscript needed), batch dim dynamic."""
    torch = _torch()
    axes = {n: {0: "batch"} for n in list(input_names) + list(output_names)} if dynamic_batch else None
    kwargs = {"input_names": list(input_names), "output_names": list(output_names), "dynamic_axes": axes,
                  "opset_version": opset}
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter announces its deprecation on every call
        try:
            torch.onnx.export(model, args, path, dynamo=False, **kwargs)
        except TypeError:  # torch < 2.5 has no dynamo argument
            torch.onnx.export(model, args, path, **kwargs)
    return path
