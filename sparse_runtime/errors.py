"""Exception types. Every message says what and where: file, node, input, expected vs. got."""


class SparseRuntimeError(Exception):
    """Base class of all errors raised by sparse_runtime."""


class ModelLoadError(SparseRuntimeError):
    """The .onnx file is missing, corrupt, truncated, invalid or unsafe."""


class UnsupportedOpError(SparseRuntimeError):
    """The model uses an operator (or an attribute/dtype of it) that we do not implement."""


class OpError(SparseRuntimeError):
    """An operator met invalid attributes or inputs; the message names the node."""

    def __init__(self, node, message: str):
        where = node.describe() if node is not None else "node ?"
        super().__init__(f"{where}: {message}")
        self.node = node


class InputError(SparseRuntimeError, ValueError):
    """Inputs handed to Engine.run do not match the model (name, dtype, shape, layout)."""
