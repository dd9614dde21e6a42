"""sparse-serve: an Open Inference Protocol (KServe v2 / Triton HTTP) server on Starlette + uvicorn.

Modules: ``protocol`` (v2 codec, numpy only), ``batcher`` (dynamic batching), ``metrics``
(Prometheus text), ``model`` (a compiled model with its streams), ``app`` (routes; needs
starlette), ``cli`` (``sparse-serve``; needs uvicorn). Nothing here is imported by
``import sparse_runtime``; the web stack is the optional ``serve`` extra.
"""
