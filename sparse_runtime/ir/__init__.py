from .graph import Dim, Graph, Node, ValueInfo
from .verify import IRError, toposort, verify

__all__ = ["Dim", "Graph", "IRError", "Node", "ValueInfo", "toposort", "verify"]
