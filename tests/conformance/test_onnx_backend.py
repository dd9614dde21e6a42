"""ONNX's own conformance suite: every node test of the installed onnx, run through
``sparse_runtime.backend`` on CPU, generated from onnx's case definitions (nothing downloaded).

Tests we do not pass are listed, with a reason per group, in expected_failures.py and marked as
expected failures (never skipped); conftest.py prints the pass count at the end of the run.
"""
from __future__ import annotations

import os
import re
import sys
import warnings

import onnx.backend.test

sys.path.insert(0, os.path.dirname(__file__))
from expected_failures import EXPECTED_FAILURES  # noqa: E402

from sparse_runtime.backend import SparseRuntimeBackend  # noqa: E402

NODE_CASE = "OnnxBackendNodeModelTest"

with warnings.catch_warnings():  # onnx's case generators overflow casts on purpose
    warnings.simplefilter("ignore", RuntimeWarning)
    backend_test = onnx.backend.test.BackendTest(SparseRuntimeBackend, __name__)
for names in EXPECTED_FAILURES.values():
    backend_test.xfail("^test_(" + "|".join(re.escape(n) for n in names) + ")_cpu$")

# Node tests only (real/simple/pytorch models need downloads or are covered in tests/models), CPU
# only: the CUDA variants are dropped rather than left as thousands of "skipped" entries.
OnnxBackendNodeModelTest = backend_test.test_cases[NODE_CASE]
for _name in [n for n in vars(OnnxBackendNodeModelTest) if n.startswith("test_") and not n.endswith("_cpu")]:
    delattr(OnnxBackendNodeModelTest, _name)
