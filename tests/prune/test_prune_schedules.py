"""Schedules follow TFMOT's formulas and step semantics at chosen steps."""
from __future__ import annotations

import pytest

from sparse_runtime.prune import ConstantSparsity, PolynomialDecay


def poly(step, si, sf, b, e, power):
    p = min(1.0, max(0.0, (step - b) / (e - b)))
    return sf + (si - sf) * (1 - p) ** power


def test_polynomial_decay_values():
    s = PolynomialDecay(0.2, 0.8, begin_step=100, end_step=1100, power=3, frequency=100)
    for step, want in [(0, 0.2), (100, 0.2), (600, 0.8 - 0.6 * 0.5 ** 3), (350, poly(350, 0.2, 0.8, 100, 1100, 3)),
                       (1100, 0.8), (5000, 0.8)]:
        assert s(step)[1] == pytest.approx(want, abs=1e-12), step
    assert PolynomialDecay(0.0, 0.9, 0, 100, power=1, frequency=10)(25)[1] == pytest.approx(0.225)


def test_polynomial_decay_pruning_steps():
    s = PolynomialDecay(0.0, 0.5, begin_step=10, end_step=50, frequency=20)
    assert [k for k in range(80) if s(k)[0]] == [10, 30, 50]  # every frequency, begin..end inclusive


def test_constant_sparsity():
    s = ConstantSparsity(0.75, begin_step=5, frequency=10)
    assert [k for k in range(40) if s(k)[0]] == [5, 15, 25, 35]  # end_step=-1: forever
    assert s(0) == (False, 0.75) and s(15) == (True, 0.75)
    s = ConstantSparsity(0.75, begin_step=0, end_step=20, frequency=10)
    assert [k for k in range(40) if s(k)[0]] == [0, 10, 20]


def test_validation_like_tfmot():
    with pytest.raises(ValueError, match="begin_step"):
        ConstantSparsity(0.5, begin_step=-1)
    with pytest.raises(ValueError, match="end_step"):
        PolynomialDecay(0.0, 0.5, begin_step=0, end_step=-1)
    with pytest.raises(ValueError, match="end_step"):
        ConstantSparsity(0.5, begin_step=10, end_step=5)
    with pytest.raises(ValueError, match="frequency"):
        ConstantSparsity(0.5, begin_step=0, frequency=0)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        PolynomialDecay(0.0, 1.0, 0, 10)


def test_config_round_trip():
    s = PolynomialDecay(0.1, 0.9, 0, 1000, power=2, frequency=50)
    cfg = s.get_config()
    assert cfg["class_name"] == "PolynomialDecay"
    t = PolynomialDecay.from_config(cfg["config"])
    assert [t(k) for k in (0, 500, 1000)] == [s(k) for k in (0, 500, 1000)]
