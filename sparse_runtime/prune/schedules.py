"""Pruning schedules with TensorFlow Model Optimization's semantics (``tfmot.sparsity.keras``).

A schedule is called with the training step and returns ``(should_prune, sparsity)``:

* ``should_prune`` is true when ``begin_step <= step`` and (``end_step == -1`` or
  ``step <= end_step``) and ``(step - begin_step) % frequency == 0``. Masks are recomputed only
  then; between those steps the last masks keep being applied.
* ``ConstantSparsity(target, begin_step, end_step=-1, frequency=100)``: always ``target``.
* ``PolynomialDecay(initial, final, begin_step, end_step, power=3, frequency=100)``:
  ``final + (initial - final) * (1 - p) ** power`` with
  ``p = clip((step - begin_step) / (end_step - begin_step), 0, 1)``: fast at first, flat at the end
  (Zhu & Gupta 2017). The final sparsity is only applied if a pruning step falls on ``end_step``,
  i.e. if ``frequency`` divides ``end_step - begin_step`` (TFMOT behaves the same).

Validation as in TFMOT: ``begin_step >= 0``; ``end_step`` is -1 (ConstantSparsity only) or
``>= begin_step``; ``frequency > 0``; sparsities in [0, 1).
"""
from __future__ import annotations


class PruningSchedule:
    begin_step: int
    end_step: int
    frequency: int

    def should_prune(self, step: int) -> bool:
        in_range = step >= self.begin_step and (self.end_step < 0 or step <= self.end_step)
        return in_range and (step - self.begin_step) % self.frequency == 0

    def sparsity(self, step: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, step: int) -> tuple:
        return self.should_prune(int(step)), float(self.sparsity(int(step)))

    @staticmethod
    def _validate(begin_step, end_step, frequency, allow_forever):
        if begin_step < 0:
            raise ValueError(f"begin_step must be >= 0, got {begin_step}")
        if end_step == -1 and not allow_forever:
            raise ValueError("end_step cannot be -1 for a schedule that needs an end to decay towards")
        if end_step != -1 and end_step < begin_step:
            raise ValueError(f"end_step ({end_step}) must be -1 or >= begin_step ({begin_step})")
        if frequency <= 0:
            raise ValueError(f"frequency must be > 0, got {frequency}")

    @staticmethod
    def _validate_sparsity(value, what):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{what} must be in [0, 1), got {value}")

    def get_config(self) -> dict:
        return {"class_name": type(self).__name__, "config": dict(self.__dict__)}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


class ConstantSparsity(PruningSchedule):
    def __init__(self, target_sparsity: float, begin_step: int, end_step: int = -1, frequency: int = 100):
        self._validate(begin_step, end_step, frequency, allow_forever=True)
        self._validate_sparsity(target_sparsity, "target_sparsity")
        self.target_sparsity = float(target_sparsity)
        self.begin_step, self.end_step, self.frequency = int(begin_step), int(end_step), int(frequency)

    def sparsity(self, step: int) -> float:
        return self.target_sparsity


class PolynomialDecay(PruningSchedule):
    def __init__(self, initial_sparsity: float, final_sparsity: float, begin_step: int, end_step: int,
                 power: float = 3, frequency: int = 100):
        self._validate(begin_step, end_step, frequency, allow_forever=False)
        self._validate_sparsity(initial_sparsity, "initial_sparsity")
        self._validate_sparsity(final_sparsity, "final_sparsity")
        self.initial_sparsity, self.final_sparsity = float(initial_sparsity), float(final_sparsity)
        self.begin_step, self.end_step, self.frequency = int(begin_step), int(end_step), int(frequency)
        self.power = power

    def sparsity(self, step: int) -> float:
        span = self.end_step - self.begin_step
        p = 1.0 if span == 0 else min(1.0, max(0.0, (step - self.begin_step) / span))
        return self.final_sparsity + (self.initial_sparsity - self.final_sparsity) * (1.0 - p) ** self.power
