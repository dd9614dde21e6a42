"""sparse_runtime vs ONNX Runtime vs DeepSparse 1.8 on the benchmark suite, in one run.

    python benchmarks/compare.py [--models mlp,bert,resnet] [--cases dense,u70,u80,u90,u95,4x1_80]
        [--time 6] [--threads 2] [--deepsparse-python .venv-deepsparse/bin/python]
        [--out benchmarks/RESULTS.md] [--model-dir .bench_models]

Every runtime gets the same file and the same inputs; they alternate in 0.25 s turns, in an order
that rotates every round (each turn's first call untimed, so a pool still spinning from the
previous runtime does not count) until each had --time seconds. Medians are reported with ratios; outputs are checked against ONNX Runtime.
DeepSparse runs in its own venv (see ../shared/DESIGN.md) through benchmarks/deepsparse_worker.py.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx

from sparse_runtime import Engine, cpu_info
from sparse_runtime.engine.benchmark import prepare_feeds
from sparse_runtime.models import bert_encoder, mlp, resnet50

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = {"dense": ("unstructured", 0.0), "u70": ("unstructured", 0.7), "u80": ("unstructured", 0.8),
         "u90": ("unstructured", 0.9), "u95": ("unstructured", 0.95), "4x1_80": ("4x1", 0.8)}
FAMILIES = {
    "mlp": lambda s, p: mlp(hidden=768, ffn=3072, tokens=128, sparsity=s, pattern=p),
    "bert": lambda s, p: bert_encoder(layers=12, seq=128, batch=1, sparsity=s, pattern=p),
    "resnet": lambda s, p: resnet50(batch=1, image=224, sparsity=s, pattern=p, fold_bn=False),
}
TURN_S = 0.25


class InProcess:
    def __init__(self, name, fn):
        self.name, self.fn = name, fn

    def run_for(self, seconds):
        self.fn()  # untimed settle call
        lat, end = [], time.perf_counter() + seconds
        while True:
            t = time.perf_counter()
            self.fn()
            now = time.perf_counter()
            lat.append(now - t)
            if now >= end:
                return lat

    def close(self):
        pass


class DeepSparseWorker:
    name = "deepsparse 1.8"

    def __init__(self, python, model, inputs_npz, threads):
        env = dict(os.environ, NM_DISABLE_ANALYTICS="1")
        self.proc = subprocess.Popen([python, "-u", os.path.join(HERE, "deepsparse_worker.py"), model, inputs_npz,
                                      str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        line = self._line()
        if line != "ready":
            raise RuntimeError(f"deepsparse worker did not start: {line!r}")

    def _line(self):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("deepsparse worker exited")
            line = line.strip()
            if line == "ready" or line == "ok" or line.startswith("["):
                return line  # DeepSparse prints banners on stdout; skip them

    def run_for(self, seconds):
        self.proc.stdin.write(f"run {TURN_S if seconds is None else seconds}\n")
        self.proc.stdin.flush()
        return json.loads(self._line())

    def outputs(self, path):
        self.proc.stdin.write(f"outputs {path}\n")
        self.proc.stdin.flush()
        self._line()
        data = np.load(path)
        return [data[f"arr_{i}"] for i in range(len(data.files))]

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 - best effort shutdown
            self.proc.kill()


def model_path(model_dir, family, case):
    pattern, sparsity = CASES[case]
    path = os.path.join(model_dir, f"{family}_{case}.onnx")
    if not os.path.exists(path):
        onnx.save(FAMILIES[family](sparsity, pattern), path)
    return path


def time_all(runners, seconds):
    lats = {r.name: [] for r in runners}
    for turn in range(max(1, int(seconds / TURN_S))):
        # The order rotates every round, so each runtime follows each other one equally often:
        # another runtime's threads may still spin after its turn (in DeepSparse's case from
        # another process), and a fixed order would always hand that to the same runtime.
        shift = turn % len(runners)
        for r in runners[shift:] + runners[:shift]:
            lats[r.name] += r.run_for(TURN_S)
    return {k: float(np.median(v)) * 1e3 for k, v in lats.items()}


def compare_case(path, threads, seconds, ds_python, tmp):
    import onnxruntime as ort

    engine = Engine(path, threads=threads)
    feeds = prepare_feeds(engine)  # valid ids for embeddings, ones for masks, noise for floats
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    ours = InProcess("sparse_runtime", lambda: engine.run(feeds))
    theirs = InProcess(f"onnxruntime {ort.__version__}", lambda: sess.run(None, feeds))
    ref = sess.run(None, feeds)
    diffs = {"sparse_runtime": max(float(np.abs(a - b).max()) for a, b in zip(engine.run(feeds), ref))}
    runners = [ours, theirs]
    ds = None
    if ds_python:
        npz = os.path.join(tmp, "inputs.npz")
        np.savez(npz, __order__=json.dumps(engine.input_names), **feeds)
        ds = DeepSparseWorker(ds_python, path, npz, threads)
        diffs["deepsparse"] = max(float(np.abs(a - b).max()) for a, b in zip(ds.outputs(os.path.join(tmp, "o.npz")), ref))
        runners.append(ds)
    try:
        for r in runners:  # warm up each
            r.run_for(0.5)
        medians = time_all(runners, seconds)
    finally:
        if ds:
            ds.close()
    report = engine.report()
    fmts = sorted({r["format"] for r in report if r.get("format")})
    return medians, diffs, fmts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="mlp,bert,resnet")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--time", type=float, default=6.0, help="timed seconds per runtime and case")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--deepsparse-python", default=None, help="python of a venv with deepsparse==1.8.0")
    ap.add_argument("--model-dir", default=os.path.join(os.path.dirname(HERE), ".bench_models"))
    ap.add_argument("--out", default=None, help="write the Markdown table here (e.g. benchmarks/RESULTS.md)")
    args = ap.parse_args(argv)
    os.makedirs(args.model_dir, exist_ok=True)
    info = cpu_info()
    head = (f"Machine: {info.get('brand') or platform.processor()}, {os.cpu_count()} logical CPUs; "
            f"sparse_runtime ISA {info['isa']} (features: "
            f"{', '.join(k for k, v in info['features'].items() if v)}); threads {args.threads}; "
            f"{args.time:g} s timed per runtime and case in alternating {TURN_S} s turns (order rotating every round); medians in ms.")
    lines = [head, "", "| model | weights | formats chosen | sparse_runtime | onnxruntime | deepsparse | "
             "vs onnxruntime | vs deepsparse | max abs diff vs ORT (ours / DS) |", "|---|---|---|---|---|---|---|---|---|"]
    print(head, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.models.split(","):
            for case in args.cases.split(","):
                path = model_path(args.model_dir, family, case)
                med, diffs, fmts = compare_case(path, args.threads, args.time, args.deepsparse_python, tmp)
                ours = med["sparse_runtime"]
                ort_ms = next(v for k, v in med.items() if k.startswith("onnxruntime"))
                ds_ms = med.get("deepsparse 1.8")
                row = (f"| {family} | {case} | {'/'.join(fmts)} | {ours:.2f} | {ort_ms:.2f} | "
                       f"{'' if ds_ms is None else f'{ds_ms:.2f}'} | {ort_ms / ours:.2f}x | "
                       f"{'' if ds_ms is None else f'{ds_ms / ours:.2f}x'} | "
                       f"{diffs['sparse_runtime']:.1e} / {diffs.get('deepsparse', float('nan')):.1e} |")
                lines.append(row)
                print(row, flush=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write("# Benchmark results\n\n" + "\n".join(lines) + "\n\nRe-run: `python benchmarks/compare.py "
                    f"--time {args.time:g} --threads {args.threads} "
                    "--deepsparse-python .venv-deepsparse/bin/python --out benchmarks/RESULTS.md`\n")


if __name__ == "__main__":
    sys.exit(main())
