"""sparse_runtime: a sparse-aware CPU inference runtime and pruning toolkit for ONNX models."""
__version__ = "0.1.0"

# onnxruntime's API (sparse_runtime/ort_compat.py), so `import sparse_runtime as ort` works.
_ORT_NAMES = ("InferenceSession", "SessionOptions", "RunOptions", "GraphOptimizationLevel",
              "ExecutionMode", "NodeArg", "ModelMetadata", "get_available_providers",
              "get_all_providers", "get_device", "set_default_logger_severity")


def __getattr__(name):
    # Lazy, so `import sparse_runtime` stays cheap and sub-packages import without the native module.
    if name == "Engine":
        from .engine import Engine

        return Engine
    if name == "cpu_info":
        from .kernels import cpu_info

        return cpu_info
    if name in _ORT_NAMES:
        from . import ort_compat

        return getattr(ort_compat, name)
    raise AttributeError(f"module 'sparse_runtime' has no attribute {name!r}")


__all__ = ["Engine", "cpu_info", "__version__", *_ORT_NAMES]
