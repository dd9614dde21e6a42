"""docs/operators.md is generated from the registry; fail when someone forgets to regenerate it."""
from pathlib import Path

from sparse_runtime.ops import all_specs
from sparse_runtime.tools.op_table import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "operators.md"


def test_committed_operator_table_is_up_to_date():
    assert DOC.read_text() == render(), (
        "docs/operators.md is stale: run `python -m sparse_runtime.tools.op_table > docs/operators.md`")


def test_table_lists_every_registered_op_once():
    text = render()
    for spec in all_specs():
        assert f"| {spec.op_type} | {spec.domain or 'ai.onnx'} | {spec.since} |" in text
    assert text.count("\n| ") == len(all_specs()) + 1  # + the header row
