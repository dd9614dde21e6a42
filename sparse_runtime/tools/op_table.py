"""Generate the operator support table from the op registry (never written by hand):

    python -m sparse_runtime.tools.op_table > docs/operators.md

tests/tools/test_op_table.py fails when the committed file is out of date.
"""
from __future__ import annotations

import sys

HEADER = """# Supported operators

Generated from the op registry by `python -m sparse_runtime.tools.op_table > docs/operators.md`;
do not edit by hand. **since** is the first opset version we implement (models at older opsets are
rejected with a named error); **kernel** says whether the op runs in native C++ kernels or in numpy.
An operator not listed here fails at `Engine()` time with an error naming the node, unless
`Engine(..., fallback="reference")` is given: then it runs in `onnx.reference` (slow) and is listed
by `Engine.report()`. Lowered ops (domain `sparse_runtime`) are produced by our passes, not by
exporters.
"""


def render() -> str:
    from ..ops import all_specs

    specs = all_specs()
    lines = [HEADER, f"{len(specs)} operators.", "",
             "| op | domain | since | dtypes | kernel |", "|---|---|---|---|---|"]
    for s in sorted(specs, key=lambda s: (s.domain != "", s.domain, s.op_type)):
        lines.append(f"| {s.op_type} | {s.domain or 'ai.onnx'} | {s.since} | {', '.join(s.dtypes)} | "
                     f"{'native' if s.native else 'numpy'} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
