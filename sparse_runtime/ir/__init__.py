from .graph import Dim, Graph, Node, ValueInfo

__all__ = ["Dim", "Graph", "Node", "ValueInfo"]
