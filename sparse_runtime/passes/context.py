"""What every pass receives besides the graph."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class PassContext:
    opset: int
    threads: Optional[int] = None
    debug: bool = False  # run ir.verify between passes
    # Lowering knobs: which weight formats the lowering pass may choose ("auto" = by cost).
    weight_format: str = "auto"
    options: dict = field(default_factory=dict)
