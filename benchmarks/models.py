"""The benchmark model suite: generators re-exported from ``sparse_runtime.models`` and
``save_all(out_dir)`` writing the suite's .onnx files.

Suite: MLP (768 -> 3072 -> 768, 128 tokens), BERT-base encoder (12 layers, seq 128, batch 1) and
ResNet-50 (224 x 224, batch 1), each dense (0 %) and unstructured at 70 / 80 / 90 / 95 %, plus the
4x1 block pattern at 80 %: 18 files, about 3 GB (mostly BERT's 6 x ~440 MB).

    python benchmarks/models.py OUT_DIR [--only mlp,bert,resnet] [--force]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Iterable, Optional

try:
    from sparse_runtime.models import PATTERNS, bert_encoder, demo_model, magnitude_mask, mlp, resnet50
except ImportError:  # run as a script from a checkout without the package installed
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from sparse_runtime.models import PATTERNS, bert_encoder, demo_model, magnitude_mask, mlp, resnet50

import onnx

GENERATORS = {"mlp": mlp, "bert": bert_encoder, "resnet": resnet50}
# (pattern, sparsity) pairs of the suite; every family gets all of them.
SUITE = [("unstructured", s) for s in (0.0, 0.7, 0.8, 0.9, 0.95)] + [("4x1", 0.8)]


def suite_cases(families: Iterable[str] = ("mlp", "bert", "resnet")) -> list:
    """[(file name, family, pattern, sparsity)] of the suite, in a stable order."""
    out = []
    for fam in families:
        if fam not in GENERATORS:
            raise ValueError(f"unknown model family {fam!r}; expected one of {sorted(GENERATORS)}")
        for pattern, s in SUITE:
            tag = "dense" if s == 0.0 else f"{pattern.replace(':', '_')}_{round(s * 100)}"
            out.append((f"{fam}_{tag}.onnx", fam, pattern, s))
    return out


def save_all(out_dir: str, families: Iterable[str] = ("mlp", "bert", "resnet"), force: bool = False,
             seed: int = 0, verbose: bool = False) -> list:
    """Write the suite into ``out_dir`` (created if needed); files already there are kept unless
    ``force``. Also writes ``manifest.json`` (file -> family, pattern, sparsity, seed). Returns the
    list of paths."""
    os.makedirs(out_dir, exist_ok=True)
    manifest_path = os.path.join(out_dir, "manifest.json")
    manifest = {}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            manifest = json.load(f)
    paths = []
    for fname, fam, pattern, s in suite_cases(families):
        path = os.path.join(out_dir, fname)
        paths.append(path)
        entry = {"family": fam, "pattern": pattern, "sparsity": s, "seed": seed}
        if os.path.exists(path) and not force and manifest.get(fname) == entry:
            continue
        if verbose:
            print(f"writing {path}", file=sys.stderr)
        model = GENERATORS[fam](sparsity=s, pattern=pattern, seed=seed)
        tmp = path + ".tmp"
        onnx.save_model(model, tmp)
        os.replace(tmp, path)  # no half-written file under the final name
        manifest[fname] = entry
        with open(manifest_path, "w") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
    return paths


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description="Write the benchmark model suite.")
    ap.add_argument("out_dir")
    ap.add_argument("--only", default="mlp,bert,resnet", help="comma-separated families")
    ap.add_argument("--force", action="store_true", help="rewrite files that already exist")
    args = ap.parse_args(argv)
    for p in save_all(args.out_dir, [f for f in args.only.split(",") if f], force=args.force, verbose=True):
        print(p)
    return 0


__all__ = ["GENERATORS", "PATTERNS", "SUITE", "bert_encoder", "demo_model", "magnitude_mask", "mlp",
           "resnet50", "save_all", "suite_cases"]

if __name__ == "__main__":
    sys.exit(main())
