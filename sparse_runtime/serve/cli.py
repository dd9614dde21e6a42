"""sparse-serve: serve one ONNX model over the Open Inference Protocol (KServe v2 / Triton HTTP).

    sparse-serve MODEL.onnx [--host 127.0.0.1] [--port 8000] [--streams N]
                 [--max-batch B --batch-timeout-ms T] [--model-name NAME] [--max-body-mb M]

The model is compiled before the server binds its port: a model that fails to load stops
start-up with a message and exit status 2, and once /v2/health/ready answers, it can serve.
"""
from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys

log = logging.getLogger("sparse_runtime.serve")


def _parser():
    p = argparse.ArgumentParser(prog="sparse-serve", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="path to the .onnx file")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 exposes it)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model-name", help="name in the URLs (default: the file name without .onnx)")
    p.add_argument("--streams", type=int, default=1,
                   help="concurrent executions; each gets cores // streams threads (default 1)")
    p.add_argument("--max-batch", type=int, default=0,
                   help="dynamic batching: merge concurrent requests along dim 0 up to this many "
                        "rows (default 0: off; needs a dynamic first dim on every input and output)")
    p.add_argument("--batch-timeout-ms", type=float, default=2.0,
                   help="how long a free stream waits for more requests to fill a batch (default 2)")
    p.add_argument("--max-body-mb", type=float, default=64.0,
                   help="largest request body accepted, in MiB; larger ones get 413 (default 64)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--access-log", action="store_true", help="log every request (uvicorn's access log)")
    return p


def _fail(msg: str) -> int:
    print(f"sparse-serve: {msg}", file=sys.stderr)
    return 2


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(name)s: %(message)s")
    try:
        import uvicorn

        from .app import create_app
    except ImportError as e:
        return _fail(f"{e.name or e} is missing; install the server with: pip install 'sparse_runtime[serve]'")
    from .metrics import Metrics
    from .model import ServedModel

    if args.streams < 1:
        return _fail(f"--streams must be >= 1, got {args.streams}")
    if args.max_batch < 0 or args.batch_timeout_ms < 0 or args.max_body_mb <= 0:
        return _fail("--max-batch, --batch-timeout-ms must be >= 0 and --max-body-mb > 0")
    name = args.model_name or os.path.splitext(os.path.basename(args.model))[0]
    if not name or "/" in name:
        return _fail(f"invalid model name {name!r}")
    metrics = Metrics()
    try:
        model = ServedModel(args.model, name, streams=args.streams, max_batch=args.max_batch,
                            batch_timeout_ms=args.batch_timeout_ms,
                            on_batch=lambda rows: metrics.batch(name, rows))
    except Exception as e:  # any load/compile failure: say which file and why, then stop
        return _fail(f"cannot load model '{args.model}': {type(e).__name__}: {e}")
    if not _is_loopback(args.host):
        log.warning("listening on %s: reachable from other machines (no authentication)", args.host)
    log.info("model '%s': %d stream(s) x %d thread(s), dynamic batching %s", name, model.pool.streams,
             model.pool.threads_per_stream,
             f"up to {model.max_batch} rows / {args.batch_timeout_ms} ms" if model.batcher else "off")
    app = create_app({name: model}, max_body_bytes=int(args.max_body_mb * (1 << 20)), metrics=metrics)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                    access_log=args.access_log)
    except OSError as e:
        return _fail(f"cannot listen on {args.host}:{args.port}: {e}")
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


if __name__ == "__main__":
    sys.exit(main())
