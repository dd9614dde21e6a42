"""Planner, executor and the Engine session."""
from .planner import Plan, build_plan
from .executor import execute
from .session import Engine

__all__ = ["Engine", "Plan", "build_plan", "execute"]
