"""The whole pruning loop on a model trained for real: scikit-learn's digits (8x8 images, 10 classes).

    pip install -e '.[torch,plot,test]'      # torch, matplotlib (optional: no plot without it), scikit-learn
    python examples/prune_digits.py [--out DIR] [--seed 0]

1. train a dense MLP (64-256-256-10) with PyTorch, export it to ONNX;
2. one-shot prune the ONNX file at 50 / 80 / 90 % with magnitude, Wanda and SparseGPT, calibrated
   on 512 training images captured with our Engine (no training framework involved);
3. gradually prune a copy of the dense model while fine-tuning (TFMOT's PolynomialDecay
   schedule), strip, export, and check that our Engine, ONNX Runtime and PyTorch predict the same;
4. store the 90 % model with sparse initializers and compare file sizes (raw and gzip);
5. print the accuracy table (markdown) and write DIR/prune_digits.png (sparsity per layer, accuracy
   vs sparsity).

Accuracy is measured with our Engine on the 360 held-out test images (1 point = 3.6 images).
The classifier (last Linear) is kept dense, as by default everywhere in the toolkit; sparsity
figures are over the pruned layers. Takes about a minute on 2 cores.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time

import numpy as np

try:
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
except ImportError as e:  # pragma: no cover
    sys.exit(f"prune_digits: needs torch and scikit-learn ({e}); pip install -e '.[torch,test]'")

from sparse_runtime.engine import Engine
from sparse_runtime.prune import GradualPruner, PolynomialDecay, export_onnx, file_sizes, prune_model, to_sparse_storage
from sparse_runtime.prune.storage import save

SPARSITIES = (0.5, 0.8, 0.9)
METHODS = ("magnitude", "wanda", "sparsegpt")


def load_data(seed: int):
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    return train_test_split(x, d.target.astype(np.int64), test_size=0.2, random_state=seed, stratify=d.target)


def make_mlp():
    nn = torch.nn
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def train(model, x, y, epochs: int, lr: float, seed: int, pruner=None):
    """Adam, batches of 32; ``pruner.step()`` after every optimizer step."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(xt), generator=g).split(32):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
            if pruner is not None:
                pruner.step()
    model.eval()
    return model


def steps_per_epoch(n: int) -> int:
    return -(-n // 32)


def engine_predict(model, x) -> np.ndarray:
    return Engine(model).run([x])[0].argmax(1)


def accuracy(pred, y) -> float:
    return 100.0 * float((pred == y).mean())


def gradual(dense, xtr, ytr, target: float, seed: int, epochs: int = 30):
    """Fine-tune a copy of ``dense`` while pruning it to ``target`` (PolynomialDecay, cubic)."""
    model = copy.deepcopy(dense)
    spe = steps_per_epoch(len(xtr))
    end = (epochs * 2 // 3) * spe  # reach the target after 2/3 of the epochs, then recover
    freq = spe // 2
    end -= end % freq  # a pruning step must fall on end_step, or the final sparsity is never applied
    sched = PolynomialDecay(0.0, target, begin_step=0, end_step=end, frequency=freq)
    pruner = GradualPruner(model, sched)
    train(model, xtr, ytr, epochs, 1e-3, seed + 1, pruner)
    return pruner.strip(), pruner


def plot(path, layer_rows, table, dense_acc):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot; pip install -e '.[plot]')")
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    names = ["fc1 64->256", "fc2 256->256", "fc3 256->10\n(classifier)"]  # the Linear layers, in order
    width = 0.8 / len(layer_rows)
    for k, (label, sparsities) in enumerate(layer_rows):
        a.bar(np.arange(len(names)) + k * width, [100 * v for v in sparsities], width, label=label)
    a.set_xticks(np.arange(len(names)) + width * (len(layer_rows) - 1) / 2, names)
    a.set_ylabel("sparsity (%)")
    a.set_title("sparsity per layer (90 % target)")
    a.legend(fontsize=8, loc="center right")
    for method, accs in table.items():
        b.plot([100 * s for s in SPARSITIES], accs, marker="o", label=method)
    b.axhline(dense_acc, color="gray", ls="--", label="dense")
    b.set_xlabel("sparsity of the pruned layers (%)")
    b.set_ylabel("test accuracy (%)")
    b.set_title("digits MLP: accuracy vs sparsity")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="prune_digits_out", help="folder for the .onnx files and the plot")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # a model this small only loses time to thread hand-offs
    xtr, xte, ytr, yte = load_data(args.seed)

    dense = train(make_mlp(), xtr, ytr, epochs=60, lr=1e-3, seed=args.seed)
    dense_path = export_onnx(dense, (torch.zeros(1, 64),), os.path.join(args.out, "dense.onnx"))
    dense_acc = accuracy(engine_predict(dense_path, xte), yte)
    print(f"dense: {dense_acc:.2f} % test accuracy ({time.perf_counter() - t0:.1f} s)")

    calib = os.path.join(args.out, "calib.npz")
    np.savez(calib, input=xtr[np.random.default_rng(args.seed).permutation(len(xtr))[:512]])
    table, layer_rows = {}, []
    for method in METHODS:
        table[f"one-shot {method}"] = []
        for s in SPARSITIES:
            res = prune_model(dense_path, s, method=method, calibration=calib)
            table[f"one-shot {method}"].append(accuracy(engine_predict(res.model, xte), yte))
            if s == SPARSITIES[-1] and method == "sparsegpt":
                layer_rows.append(("one-shot sparsegpt", [r.sparsity for r in res.layers]))
        print(f"one-shot {method}: done ({time.perf_counter() - t0:.1f} s)")
    # global scope: one magnitude threshold across layers decides each layer's share
    table["one-shot sparsegpt, global scope"] = []
    for s in SPARSITIES:
        res = prune_model(dense_path, s, method="sparsegpt", scope="global", calibration=calib)
        table["one-shot sparsegpt, global scope"].append(accuracy(engine_predict(res.model, xte), yte))
    layer_rows.append(("one-shot sparsegpt, global scope", [r.sparsity for r in res.layers]))

    table["gradual + fine-tuning"] = []
    for s in SPARSITIES:
        model, pruner = gradual(dense, xtr, ytr, s, args.seed)
        path = export_onnx(model, (torch.zeros(1, 64),), os.path.join(args.out, f"gradual_{int(100 * s)}.onnx"))
        ours = engine_predict(path, xte)
        with torch.no_grad():
            theirs = model(torch.from_numpy(xte)).numpy().argmax(1)
        try:
            import onnxruntime as ort

            ort_pred = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"input": xte})[0]
            same_ort = bool((ort_pred.argmax(1) == ours).all())
        except ImportError:
            same_ort = None
        same = bool((theirs == ours).all())
        table["gradual + fine-tuning"].append(accuracy(ours, yte))
        print(f"gradual {int(100 * s)} %: same predictions as PyTorch: {same}, as ONNX Runtime: {same_ort} "
              f"({time.perf_counter() - t0:.1f} s)")
        if s == SPARSITIES[-1]:
            layer_rows.insert(0, ("gradual", [1 - nz / p for _, p, nz, _ in pruner.report()]))
            last = path

    sparse_path = os.path.join(args.out, "gradual_90_sparse.onnx")
    import onnx

    m = onnx.load(last)
    to_sparse_storage(m)
    save(m, sparse_path)
    same_sparse = bool((engine_predict(sparse_path, xte) == engine_predict(last, xte)).all())
    d, p = file_sizes(dense_path), file_sizes(sparse_path)
    pz = file_sizes(last)

    print()
    print(f"| method (dense: {dense_acc:.2f} %) | " + " | ".join(f"{int(100 * s)} %" for s in SPARSITIES) + " |")
    print("|---|" + "---:|" * len(SPARSITIES))
    for method, accs in table.items():
        print(f"| {method} | " + " | ".join(f"{a:.2f}" for a in accs) + " |")
    print()
    print("| file | raw bytes | gzip bytes |")
    print("|---|---:|---:|")
    print(f"| dense | {d['raw']:,} | {d['gzip']:,} |")
    print(f"| gradual 90 %, dense storage | {pz['raw']:,} | {pz['gzip']:,} |")
    print(f"| gradual 90 %, sparse storage | {p['raw']:,} | {p['gzip']:,} |")
    print(f"| ratio dense / sparse storage | {d['raw'] / p['raw']:.2f}x | {d['gzip'] / p['gzip']:.2f}x |")
    print(f"\nsparse-storage file loads with the same predictions: {same_sparse}")
    png = plot(os.path.join(args.out, "prune_digits.png"), layer_rows, table, dense_acc)
    if png:
        print(f"plot: {png}")
    print(f"total {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
