"""Bounded load test for sparse-serve, over loopback, with the official Triton HTTP client.

    python benchmarks/serve_load.py                      # 2,000 requests, 16 clients, batching off then on
    python benchmarks/serve_load.py --requests 500 --clients 8 --max-batch 32
    python benchmarks/serve_load.py --url 127.0.0.1:8000 --model NAME   # an already running server

Without ``--url`` it writes a transformer FFN block (``sparse_runtime.models.mlp``, a dynamic
token dim, 90 % sparse) to a temporary file, starts ``sparse-serve`` on a free loopback port once
with dynamic batching off and once on, and reports throughput and p50/p99 latency for each. Every
request has a timeout, and the whole run a deadline, so it always ends. Each client is a thread
with its own connection; a request's input is [rows, hidden] of random floats.

``start_server`` and ``run_load`` are also what tests/serve uses.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import numpy as np


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def start_server(model_path, *args, name="model", timeout=60.0, env=None):
    """Run ``python -m sparse_runtime.serve MODEL`` on a free loopback port until the block ends;
    yields ``(address "127.0.0.1:PORT", Popen)`` once /v2/health/ready answers 200."""
    port = free_port()
    cmd = [sys.executable, "-m", "sparse_runtime.serve", os.fspath(model_path), "--port", str(port),
           "--model-name", name, "--log-level", "warning", *map(str, args)]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_ready(f"127.0.0.1:{port}", proc, timeout, log)
        yield f"127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def wait_ready(address, proc, timeout, log):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"sparse-serve exited with {proc.returncode} before it was ready:\n"
                               + log.read().decode(errors="replace"))
        try:
            with urllib.request.urlopen(f"http://{address}/v2/health/ready", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"sparse-serve at {address} not ready after {timeout} s")


def run_load(address, model, input_name="x", shape=(1, 768), datatype="FP32", output_name="y",
             requests=2000, clients=16, timeout=30.0, deadline=300.0, check=None, seed=0) -> dict:
    """``requests`` inferences from ``clients`` threads. ``check(x, y)`` (optional) validates an
    answer; a failed check counts as an error. Returns counts, throughput and latency percentiles."""
    import tritonclient.http as httpclient

    lock = threading.Lock()
    issued = [0]
    latencies, errors = [], []
    stop_at = time.monotonic() + deadline

    def client(k):
        rng = np.random.default_rng(seed + k)
        c = httpclient.InferenceServerClient(address, connection_timeout=timeout, network_timeout=timeout)
        try:
            while time.monotonic() < stop_at:
                with lock:
                    if issued[0] >= requests:
                        return
                    issued[0] += 1
                x = rng.standard_normal(shape).astype(np.float32)
                inp = httpclient.InferInput(input_name, list(shape), datatype)
                inp.set_data_from_numpy(x)
                t0 = time.perf_counter()
                try:
                    y = c.infer(model, [inp]).as_numpy(output_name)
                    if check is not None:
                        check(x, y)
                    dt = time.perf_counter() - t0
                    with lock:
                        latencies.append(dt)
                except Exception as e:  # counted, not raised: the run goes on and reports them
                    with lock:
                        errors.append(f"{type(e).__name__}: {e}")
        finally:
            c.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, stop_at - time.monotonic()) + timeout)
    wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1e3 if latencies else np.array([np.nan])
    return {"requests": len(latencies) + len(errors), "ok": len(latencies), "errors": len(errors),
            "first_errors": errors[:3], "clients": clients, "seconds": round(wall, 3),
            "throughput_rps": round(len(latencies) / wall, 1),
            "p50_ms": round(float(np.percentile(lat, 50)), 2), "p99_ms": round(float(np.percentile(lat, 99)), 2)}


def _model_file(args, directory):
    import onnx

    from sparse_runtime.models import mlp

    path = os.path.join(directory, "ffn.onnx")
    onnx.save(mlp(hidden=args.hidden, ffn=args.ffn, tokens=args.rows, sparsity=0.9, symbolic=True), path)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--timeout", type=float, default=30.0, help="per request, seconds")
    p.add_argument("--deadline", type=float, default=300.0, help="per run, seconds")
    p.add_argument("--url", help="host:port of a running server (default: start one per run)")
    p.add_argument("--model", default="ffn")
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--ffn", type=int, default=3072)
    p.add_argument("--rows", type=int, default=1, help="rows (tokens) per request")
    p.add_argument("--streams", type=int, default=1)
    p.add_argument("--max-batch", type=int, default=16)
    p.add_argument("--batch-timeout-ms", type=float, default=2.0)
    p.add_argument("--repeat", type=int, default=1,
                   help="rounds per configuration, alternating between them; the median round is "
                        "reported (a shared machine is noisy)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    args = p.parse_args(argv)

    load = dict(input_name="x", shape=(args.rows, args.hidden), requests=args.requests,
                clients=args.clients, timeout=args.timeout, deadline=args.deadline)
    results = {}
    if args.url:
        results["given server"] = run_load(args.url, args.model, **load)
    else:
        with tempfile.TemporaryDirectory() as d:
            path = _model_file(args, d)
            runs = {"batching off": ["--streams", args.streams],
                    f"batching on (max {args.max_batch}, {args.batch_timeout_ms} ms)":
                        ["--streams", args.streams, "--max-batch", args.max_batch,
                         "--batch-timeout-ms", args.batch_timeout_ms]}
            with contextlib.ExitStack() as stack:  # both servers up; runs alternate between them
                servers = {label: stack.enter_context(start_server(path, *extra, name=args.model))[0]
                           for label, extra in runs.items()}
                for address in servers.values():
                    run_load(address, args.model, **{**load, "requests": min(50, args.requests)})  # warm-up
                rounds = {label: [] for label in runs}
                for _ in range(args.repeat):
                    for label, address in servers.items():
                        rounds[label].append(run_load(address, args.model, **load))
            for label, rs in rounds.items():  # the median round by throughput, errors of all rounds
                med = sorted(rs, key=lambda r: r["throughput_rps"])[len(rs) // 2]
                results[label] = {**med, "errors": sum(r["errors"] for r in rs),
                                  "all_rps": [r["throughput_rps"] for r in rs]}
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{args.requests} requests x [{args.rows}, {args.hidden}] FP32 from {args.clients} clients, "
              f"{os.cpu_count()} CPUs, streams={args.streams}")
        print(f"{'run':<40} {'ok':>6} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
        for label, r in results.items():
            rounds = f"  (rounds: {r['all_rps']})" if len(r.get("all_rps", ())) > 1 else ""
            print(f"{label:<40} {r['ok']:>6} {r['errors']:>6} {r['throughput_rps']:>8} {r['p50_ms']:>8} "
                  f"{r['p99_ms']:>8}{rounds}")
            for e in r["first_errors"]:
                print("   error:", e)
    return 1 if any(r["errors"] or r["ok"] < args.requests for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
