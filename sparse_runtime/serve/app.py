"""The Starlette application: Open Inference Protocol (KServe v2) routes and /metrics.

Every error answers ``{"error": "..."}`` (what the Triton clients parse) with a 4xx for the
client's mistakes and 500 for ours; the server keeps serving either way.
"""
from __future__ import annotations

import contextlib
import logging
import time
import zlib

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .. import __version__
from ..errors import InputError
from .metrics import Metrics
from .model import VERSION
from .protocol import ProtocolError, decode_request, encode_response

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 64 << 20


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(models: dict, max_body_bytes: int = DEFAULT_MAX_BODY, metrics: Metrics | None = None) -> Starlette:
    """``models``: name -> :class:`ServedModel` (already compiled: the server is ready at once)."""
    metrics = metrics or Metrics()

    def lookup(request: Request):
        name = request.path_params["name"]
        model = models.get(name)
        if model is None:
            raise ProtocolError(f"unknown model '{name}' (served: {sorted(models)})", 404)
        version = request.path_params.get("version")
        if version not in (None, "", VERSION):
            raise ProtocolError(f"model '{name}' has no version '{version}' (versions: [{VERSION!r}])", 404)
        return model

    async def live(request):
        return Response(status_code=200)

    async def server_metadata(request):
        return JSONResponse({"name": "sparse_runtime", "version": __version__,
                             "extensions": ["binary_tensor_data", "model_configuration"]})

    async def model_metadata(request):
        try:
            return JSONResponse(lookup(request).metadata())
        except ProtocolError as e:
            return _error(e.status, str(e))

    async def model_config(request):
        try:
            return JSONResponse(lookup(request).config())
        except ProtocolError as e:
            return _error(e.status, str(e))

    async def model_ready(request):
        try:
            lookup(request)  # loaded at start-up, so a known model is ready
            return Response(status_code=200)
        except ProtocolError as e:
            return _error(e.status, str(e))

    async def infer(request):
        t0 = time.perf_counter()
        label, code = "_unknown", 500  # unknown names are not labels: clients could grow /metrics forever
        try:
            model = lookup(request)
            label = model.name
            body = await _read_body(request, max_body_bytes)
            req = decode_request(body, _header_length(request), model.inputs, model.outputs)
            try:
                outs = await model.infer(req.feeds)
            except InputError as e:  # the engine's own checks (e.g. a symbolic dim used twice)
                raise ProtocolError(str(e), 400) from None
            content, headers = encode_response(model.name, VERSION, req, model.output_names, outs)
            code = 200
            return Response(content, headers=headers)
        except ProtocolError as e:
            code = e.status
            return _error(e.status, str(e))
        except Exception as e:
            log.exception("inference failed")
            return _error(500, f"inference failed: {type(e).__name__}: {e}")
        finally:
            metrics.request(label, code, time.perf_counter() - t0)

    async def prometheus(request):
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    async def http_error(request, exc: HTTPException):
        return _error(exc.status_code, exc.detail or "error")

    async def server_error(request, exc):
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        for m in models.values():
            m.close()

    routes = [Route("/v2/health/live", live), Route("/v2/health/ready", live), Route("/v2", server_metadata),
              Route("/metrics", prometheus)]
    for base in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        routes += [Route(base, model_metadata), Route(base + "/ready", model_ready),
                   Route(base + "/config", model_config), Route(base + "/infer", infer, methods=["POST"])]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: http_error, Exception: server_error})
    app.state.models = models
    app.state.metrics = metrics
    return app


def _header_length(request):
    v = request.headers.get("inference-header-content-length")
    if v is None:
        return None
    try:
        return int(v)
    except ValueError:
        raise ProtocolError(f"Inference-Header-Content-Length {v!r} is not an integer") from None


async def _read_body(request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to pass ``limit`` bytes (before reading
    it when Content-Length says so); gzip/deflate bodies are inflated up to the same limit."""
    too_big = f"request body exceeds the limit of {limit} bytes (sparse-serve --max-body-mb)"
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ProtocolError(too_big, 413)
    chunks, n = [], 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > limit:
            raise ProtocolError(too_big, 413)
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("gzip", "deflate"):
        d = zlib.decompressobj(31 if encoding == "gzip" else 15)
        try:
            body = d.decompress(body, limit + 1)
        except zlib.error as e:
            raise ProtocolError(f"cannot inflate the {encoding} body: {e}") from None
        if len(body) > limit or d.unconsumed_tail:
            raise ProtocolError(too_big + " once inflated", 413)
    elif encoding != "identity":
        raise ProtocolError(f"unsupported Content-Encoding {encoding!r} (identity, gzip, deflate)", 415)
    return body
