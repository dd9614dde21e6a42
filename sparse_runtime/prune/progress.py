"""A progress bar for long pruning runs: tqdm when it is installed, else a plain one-line bar.
Shown only when stderr is a terminal, so logs and pipes stay clean."""
from __future__ import annotations

import sys


class Progress:
    """``Progress(desc)(done, total, name)`` matches prune_model's ``progress`` callback."""

    def __init__(self, desc: str = "pruning", enabled=None, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else bool(enabled)
        self.desc = desc
        self._bar = None
        self._drawn = False

    def __call__(self, done: int, total: int, name: str) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            try:
                from tqdm import tqdm
            except ImportError:
                self._bar = False
            else:
                self._bar = tqdm(total=total, desc=self.desc, file=self.stream, unit="layer", leave=False)
        if self._bar:
            self._bar.set_postfix_str(name[-30:], refresh=False)
            self._bar.update(done - self._bar.n)
            return
        width = 24
        fill = int(width * done / total) if total else width
        self.stream.write(f"\r{self.desc} [{'#' * fill}{'.' * (width - fill)}] {done}/{total} {name[-30:]:30}")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._bar:
            self._bar.close()
        elif self._drawn:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()
