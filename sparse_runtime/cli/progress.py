"""A one-line progress indicator on stderr, only when stderr is a terminal.

Dependency-free on purpose (tqdm would be one more install for a spinner). When stderr is not a
TTY (CI logs, pipes, tests) every method is a no-op, so stdout and stderr stay parseable.
"""
from __future__ import annotations

import sys
import time

_FRAMES = "|/-\\"


class Progress:
    def __init__(self, stream=None, enabled=None, min_interval: float = 0.1):
        self.stream = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = bool(isatty()) if enabled is None else bool(enabled)
        self.min_interval = min_interval
        self._last = 0.0
        self._frame = 0
        self._width = 0

    def _write(self, text: str) -> None:
        pad = max(0, self._width - len(text))
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()
        self._width = len(text)

    def message(self, text: str) -> None:
        """A phase with no known length (compiling, generating a model)."""
        if self.enabled:
            self._write(f"{_FRAMES[self._frame % 4]} {text}")
            self._frame += 1

    def __call__(self, phase: str, done: float, total: float) -> None:
        """``done`` of ``total`` seconds of ``phase``; redrawn at most every ``min_interval`` s."""
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < self.min_interval:
            return
        self._last = now
        frac = min(1.0, done / total) if total > 0 else 1.0
        bar = "#" * int(frac * 20)
        self._frame += 1
        self._write(f"{_FRAMES[self._frame % 4]} {phase:8s} [{bar:20s}] {done:5.1f}/{total:.1f} s")

    def clear(self) -> None:
        if self.enabled and self._width:
            self._write("")
            self.stream.write("\r")
            self.stream.flush()
            self._width = 0
