"""MLP 768->3072->768 (128 tokens) at 0 % and 90 % sparsity: sparse_runtime vs ONNX Runtime,
same file, same inputs, turn by turn in one process; medians. Usage: python benchmarks/mlp_vs_ort.py"""
import os
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort

from sparse_runtime import Engine, cpu_info
from sparse_runtime.models import mlp

THREADS = int(os.environ.get("THREADS", "2"))
RUNS = int(os.environ.get("RUNS", "200"))


def main():
    info = cpu_info()
    print(f"CPU {info['brand']}, ISA {info['isa']}, threads {THREADS}, {RUNS} runs each, medians")
    print("| sparsity | sparse_runtime ms | onnxruntime ms | speed-up | max abs diff |")
    print("|---|---|---|---|---|")
    for sparsity in (0.0, 0.9):
        path = os.path.join(tempfile.mkdtemp(), "mlp.onnx")
        onnx.save(mlp(hidden=768, ffn=3072, tokens=128, sparsity=sparsity), path)
        engine = Engine(path, threads=THREADS)
        so = ort.SessionOptions()
        so.intra_op_num_threads = THREADS
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).standard_normal((128, 768)).astype(np.float32)
        name = sess.get_inputs()[0].name
        diff = float(np.abs(engine.run([x])[0] - sess.run(None, {name: x})[0]).max())
        ours, theirs = [], []
        for _ in range(RUNS):  # alternate so machine noise hits both
            t = time.perf_counter()
            engine.run([x])
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            sess.run(None, {name: x})
            theirs.append(time.perf_counter() - t)
        a, b = np.median(ours) * 1e3, np.median(theirs) * 1e3
        print(f"| {sparsity:.0%} | {a:.3f} | {b:.3f} | {b / a:.2f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
