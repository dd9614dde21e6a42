"""Model loading: ONNX file / bytes / ModelProto -> validated IR Graph."""
from .onnx_loader import load_model

__all__ = ["load_model"]
