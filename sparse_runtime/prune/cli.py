"""sparse-prune: one-shot pruning of an ONNX model from the command line.

    sparse-prune IN.onnx -o OUT.onnx --sparsity 0.9 [--pattern unstructured|4x1|1x4|2:4|channel]
                 [--method magnitude|wanda|sparsegpt] [--calib data.npz] [--scope layer|global]
                 [--exclude REGEX ...] [--exclude-op OP ...] [--sparse-storage] [--report]

Exit codes: 0 done; 1 pruning failed; 2 bad arguments; 3 unreadable or invalid input (model or
calibration data); 4 the output cannot be written. Errors are one line on stderr.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Optional

from .methods import METHODS
from .patterns import PATTERNS

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INPUT, EXIT_OUTPUT = 0, 1, 2, 3, 4


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and our exit code, not argparse's usage block
        print(f"sparse-prune: error: {message} (see sparse-prune --help)", file=sys.stderr)
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="sparse-prune", description="Prune an ONNX model once, without training.")
    p.add_argument("model", help="input .onnx file")
    p.add_argument("-o", "--output", required=True, help="output .onnx file")
    p.add_argument("--sparsity", type=float, help="fraction of weights to zero, in [0, 1] (2:4: 0.5, "
                   "may be omitted)")
    p.add_argument("--pattern", default="unstructured", choices=PATTERNS)
    p.add_argument("--method", default="magnitude", choices=METHODS)
    p.add_argument("--calib", metavar="NPZ", help="calibration inputs (.npz, one array per model input, "
                   "samples along axis 0); wanda/sparsegpt without it use random inputs (smoke run)")
    p.add_argument("--calib-samples", type=int, default=64, help="random samples when --calib is not given")
    p.add_argument("--scope", default="layer", choices=("layer", "global"))
    p.add_argument("--exclude", action="append", default=[], metavar="REGEX",
                   help="do not prune layers whose node or weight name matches (repeatable)")
    p.add_argument("--exclude-op", action="append", default=[], metavar="OP", help="do not prune this op type")
    p.add_argument("--include-first-conv", action="store_true", help="prune the first Conv too")
    p.add_argument("--include-classifier", action="store_true", help="prune the classifier too")
    p.add_argument("--no-sequential", action="store_true",
                   help="capture calibration statistics once, before any layer is pruned (faster)")
    p.add_argument("--blocksize", type=int, default=128, help="SparseGPT column block")
    p.add_argument("--damp", type=float, default=0.01, help="SparseGPT dampening, fraction of mean diag(H)")
    p.add_argument("--sparse-storage", action="store_true",
                   help="store sparse weights as ONNX sparse_initializers (smaller file)")
    p.add_argument("--report", action="store_true", help="print per-layer sparsity and file sizes")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no summary")
    return p


def _usage_problem(a) -> Optional[str]:
    if a.sparsity is None and a.pattern != "2:4":
        return "--sparsity is required (except for --pattern 2:4)"
    if a.sparsity is not None and not 0.0 <= a.sparsity <= 1.0:
        return f"--sparsity must be in [0, 1], got {a.sparsity}"
    if a.pattern == "2:4" and a.sparsity is not None and abs(a.sparsity - 0.5) > 1e-9:
        return f"--pattern 2:4 is 50 % sparse by definition; got --sparsity {a.sparsity}"
    if a.calib_samples < 1 or a.blocksize < 4 or a.damp < 0:
        return "--calib-samples must be >= 1, --blocksize >= 4 and --damp >= 0"
    for rx in a.exclude:
        try:
            re.compile(rx)
        except re.error as e:
            return f"--exclude {rx!r} is not a valid regular expression: {e}"
    if os.path.abspath(a.model) == os.path.abspath(a.output):
        return "--output must differ from the input model"
    return None


def main(argv: Optional[list] = None) -> int:
    a = build_parser().parse_args(argv)

    def fail(msg, code):
        print(f"sparse-prune: error: {' '.join(str(msg).split())}", file=sys.stderr)
        return code

    problem = _usage_problem(a)
    if problem:
        return fail(problem, EXIT_USAGE)
    from ..errors import ModelLoadError, UnsupportedOpError
    from .calibration import CalibrationError
    from .oneshot import prune_model
    from .progress import Progress
    from .report import layer_table, size_report
    from .storage import file_sizes, save, to_sparse_storage

    if not os.path.isfile(a.model):
        return fail(f"'{a.model}': model file does not exist", EXIT_INPUT)
    out_dir = os.path.dirname(os.path.abspath(a.output))
    if not os.path.isdir(out_dir):
        return fail(f"cannot write '{a.output}': folder '{out_dir}' does not exist", EXIT_OUTPUT)
    bar = Progress(f"{a.method} {a.pattern}", enabled=False if a.quiet else None)
    try:
        res = prune_model(a.model, a.sparsity, pattern=a.pattern, method=a.method, scope=a.scope,
                          exclude=a.exclude, exclude_ops=a.exclude_op, include_first_conv=a.include_first_conv,
                          include_classifier=a.include_classifier, calibration=a.calib,
                          calib_samples=a.calib_samples, sequential=not a.no_sequential,
                          blocksize=a.blocksize, damp=a.damp, progress=bar)
    except KeyboardInterrupt:
        return fail("interrupted", 130)
    except (ModelLoadError, CalibrationError) as e:
        return fail(e, EXIT_INPUT)
    except UnsupportedOpError as e:
        return fail(f"{a.model}: cannot run the model for calibration: {e}", EXIT_INPUT)
    except Exception as e:  # noqa: BLE001 - one line, never a traceback
        return fail(f"{a.model}: {type(e).__name__}: {e}", EXIT_FAILED)
    finally:
        bar.close()
    if not res.pruned:
        return fail(f"{a.model}: no layer to prune (all prunable layers are excluded or there are none; see "
                    "--include-classifier / --include-first-conv)", EXIT_FAILED)
    converted = to_sparse_storage(res.model) if a.sparse_storage else []
    try:
        save(res.model, a.output)
    except (OSError, ValueError) as e:
        return fail(f"cannot write '{a.output}': {e}", EXIT_OUTPUT)

    if not a.quiet:
        for note in res.notes:
            print(f"note: {note}")
        print(f"{a.output}: {len(res.pruned)} layers pruned ({a.method}, {a.pattern}, scope {a.scope}), "
              f"sparsity {100 * res.sparsity:.1f} %" + (f", {len(converted)} weights stored sparse" if converted
                                                         else ""))
    if a.report:
        print()
        print(layer_table(res.layers))
        print()
        print(size_report(file_sizes(a.model), file_sizes(a.output)))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
