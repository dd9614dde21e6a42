"""Command-line tools. ``sparse-bench`` lives in :mod:`sparse_runtime.cli.bench`."""
