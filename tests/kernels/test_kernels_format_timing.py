"""The format contest at load (kernels._time_candidates, choose_format) on a fake clock: which
candidates run how often, and that a close contest gets its run-off."""
import numpy as np
import pytest

from sparse_runtime import kernels
from sparse_runtime.testing.cases import Case, make_weight


class FakeClock:
    """perf_counter that only moves when a fake kernel 'runs' for its cost in milliseconds."""

    def __init__(self):
        self.now = 0.0
        self.calls = {}

    def perf_counter(self):
        return self.now

    def kernel(self, name, costs_ms):
        costs = iter(costs_ms)

        def run():
            self.calls[name] = self.calls.get(name, 0) + 1
            self.now += next(costs) / 1e3
        return run


@pytest.fixture
def clock(monkeypatch):
    c = FakeClock()
    monkeypatch.setattr(kernels.time, "perf_counter", c.perf_counter)
    return c


def test_far_apart_candidates_get_no_runoff(clock):
    run = {"dense": clock.kernel("dense", [3.0] * 20), "csr": clock.kernel("csr", [1.0] * 20),
           "bsr4x1": clock.kernel("bsr4x1", [2.0] * 20)}
    best = kernels._time_candidates(run, rounds=5, runoff_rounds=5, runoff_margin=1.5)
    assert best == pytest.approx({"dense": 3.0, "csr": 1.0, "bsr4x1": 2.0})
    assert clock.calls == {"dense": 6, "csr": 6, "bsr4x1": 6}  # warm-up + 5 rounds each


def test_close_contest_runs_off_the_two_leaders(clock):
    # bsr4x1 is the faster kernel, but a burst of noise slowed every one of its first rounds:
    # after them CSR leads by a hair, and the run-off rounds put bsr4x1 back in front.
    run = {"dense": clock.kernel("dense", [3.0] * 20),
           "csr": clock.kernel("csr", [1.3] * 20),
           "bsr4x1": clock.kernel("bsr4x1", [1.0] + [1.4] * 5 + [1.0] * 5)}
    best = kernels._time_candidates(run, rounds=5, runoff_rounds=5, runoff_margin=1.5)
    assert clock.calls == {"dense": 6, "csr": 11, "bsr4x1": 11}
    assert min(best, key=best.get) == "bsr4x1" and best["bsr4x1"] == pytest.approx(1.0)
    assert best["csr"] == pytest.approx(1.3) and best["dense"] == pytest.approx(3.0)


def test_choose_format_reports_measured_timings():
    kernels._choice_cache.clear()
    w = make_weight(Case(64, 256, 32, 0.2, "4x1"))
    choice = kernels.choose_format(w, 32)
    assert choice.reason == "measured"
    assert set(choice.timings_ms) == set(kernels.candidate_formats(w)) >= {"dense", "csr", "bsr4x1"}
    assert all(np.isfinite(t) and t > 0 for t in choice.timings_ms.values())
    assert kernels.choose_format(w, 32) is choice  # an identical layer reuses the verdict
