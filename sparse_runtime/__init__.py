"""sparse_runtime: a sparse-aware CPU inference runtime and pruning toolkit for ONNX models."""
__version__ = "0.1.0"


def __getattr__(name):
    # Lazy, so `import sparse_runtime` stays cheap and sub-packages import without the native module.
    if name == "Engine":
        from .engine import Engine

        return Engine
    if name == "cpu_info":
        from .kernels import cpu_info

        return cpu_info
    raise AttributeError(f"module 'sparse_runtime' has no attribute {name!r}")


__all__ = ["Engine", "cpu_info", "__version__"]
