"""``python -m sparse_runtime.cli`` = ``sparse-bench``."""
import sys

from .bench import main

sys.exit(main())
