"""The one exception family of pinndd."""

from __future__ import annotations


class PinnddError(ValueError):
    """Raised for invalid input to pinndd; the message says what was wrong and how to fix it."""


class TrainingDiverged(PinnddError, FloatingPointError):
    """Training produced a non-finite loss; ``step`` and ``term`` name where it happened."""

    def __init__(self, step: int, term: str, value: float):
        self.step, self.term, self.value = step, term, value
        super().__init__(
            f"loss term {term!r} became {value} at step {step}; lower the learning rate, "
            "check the problem's residual for divisions by zero, or use float64"
        )
