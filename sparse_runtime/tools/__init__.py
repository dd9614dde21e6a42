"""Developer tools (``python -m sparse_runtime.tools.<name>``)."""
