"""Prometheus metrics in the plain-text exposition format (no client library needed).

Counters and histograms keyed by label values; updates come from the event loop and the stream
threads, so a lock guards them.
"""
from __future__ import annotations

import bisect
import threading

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class _Histogram:
    def __init__(self, buckets):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)  # last: above the largest bound (+Inf only)
        self.sum = 0.0
        self.count = 0

    def observe(self, v):
        self.counts[bisect.bisect_left(self.buckets, v)] += 1
        self.sum += v
        self.count += 1


def _labels(names, values, extra=""):
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _escape(v):
    return str(v).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    PREFIX = "sparse_serve_"

    def __init__(self):
        self._lock = threading.Lock()
        self._requests = {}  # (model,) -> count
        self._errors = {}  # (model, code) -> count
        self._latency = {}  # (model,) -> _Histogram
        self._batch = {}  # (model,) -> _Histogram

    def request(self, model: str, code: int, seconds: float):
        """One inference request finished with HTTP ``code`` after ``seconds``."""
        with self._lock:
            self._requests[(model,)] = self._requests.get((model,), 0) + 1
            if code >= 400:
                key = (model, str(code))
                self._errors[key] = self._errors.get(key, 0) + 1
            self._latency.setdefault((model,), _Histogram(LATENCY_BUCKETS)).observe(seconds)

    def batch(self, model: str, rows: int):
        """One execution of the model over ``rows`` rows (a merged batch or a single request)."""
        with self._lock:
            self._batch.setdefault((model,), _Histogram(BATCH_BUCKETS)).observe(rows)

    def render(self) -> str:
        p = self.PREFIX
        out = []
        with self._lock:
            out += [f"# HELP {p}requests_total Inference requests received.",
                    f"# TYPE {p}requests_total counter"]
            out += [f"{p}requests_total{_labels(('model',), k)} {v}" for k, v in sorted(self._requests.items())]
            out += [f"# HELP {p}request_errors_total Inference requests answered with an error, by HTTP code.",
                    f"# TYPE {p}request_errors_total counter"]
            out += [f"{p}request_errors_total{_labels(('model', 'code'), k)} {v}"
                    for k, v in sorted(self._errors.items())]
            out += self._histogram(f"{p}request_duration_seconds", "Inference request latency, "
                                   "from the body read to the response built.", self._latency)
            out += self._histogram(f"{p}batch_size", "Rows (dim 0) per model execution; above the "
                                   "request's own size when dynamic batching merged requests.", self._batch)
        return "\n".join(out) + "\n"

    @staticmethod
    def _histogram(name, help_, table):
        lines = [f"# HELP {name} {help_}", f"# TYPE {name} histogram"]
        for key, h in sorted(table.items()):
            cum = 0
            for bound, c in zip(h.buckets, h.counts):
                cum += c
                le = 'le="%s"' % bound
                lines.append(f"{name}_bucket{_labels(('model',), key, le)} {cum}")
            le = 'le="+Inf"'
            lines.append(f"{name}_bucket{_labels(('model',), key, le)} {h.count}")
            lines.append(f"{name}_sum{_labels(('model',), key)} {h.sum}")
            lines.append(f"{name}_count{_labels(('model',), key)} {h.count}")
        return lines
