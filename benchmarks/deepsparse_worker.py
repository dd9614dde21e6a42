"""Runs inside DeepSparse 1.8's own venv (it pins old numpy/onnx), driven by compare.py over
stdin/stdout, so its runs can alternate with ours in time slices.

    PY -u deepsparse_worker.py MODEL.onnx INPUTS.npz THREADS
Commands (one per line): ``run SECONDS`` -> a JSON list of latencies in seconds;
``outputs PATH`` -> writes the outputs of one run to PATH (.npz) and answers ``ok``; ``quit``.
Only the standard library, numpy and deepsparse are used here.
"""
import json
import os
import sys
import time

os.environ.setdefault("NM_DISABLE_ANALYTICS", "1")

import numpy as np  # noqa: E402
from deepsparse import compile_model  # noqa: E402


def main():
    model, inputs_path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = np.load(inputs_path)
    names = json.loads(str(data["__order__"]))
    inputs = [np.ascontiguousarray(data[n]) for n in names]
    batch = int(inputs[0].shape[0]) if inputs[0].ndim else 1
    engine = compile_model(model, batch_size=batch, num_cores=threads)
    engine(inputs)
    print("ready", flush=True)
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "run":
            lat, end = [], time.perf_counter() + float(arg)
            while True:
                t = time.perf_counter()
                engine(inputs)
                now = time.perf_counter()
                lat.append(now - t)
                if now >= end:
                    break
            print(json.dumps(lat), flush=True)
        elif cmd == "outputs":
            np.savez(arg, *engine(inputs))
            print("ok", flush=True)
        elif cmd == "quit":
            return


if __name__ == "__main__":
    main()
