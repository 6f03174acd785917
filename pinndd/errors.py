"""The one exception family of pinndd."""

from __future__ import annotations


class PinnddError(ValueError):
    """Raised for invalid input to pinndd; the message says what was wrong and how to fix it."""


class TrainingDiverged(PinnddError, FloatingPointError):
    """Training produced a non-finite loss; ``step`` and ``term`` name where it happened.

    Raised by :func:`pinndd.train` with the last finite model kept:

    - ``model``: the PINN with its parameters put back to the last ones whose recorded loss was
      finite (save or evaluate it as any trained model);
    - ``last_finite_step``: the step of those parameters (``None`` when the very first loss was
      not finite, and ``model`` is then the initial network);
    - ``result``: a :class:`pinndd.TrainResult` of ``model`` with the finite history so far.
    """

    def __init__(self, step: int, term: str, value: float):
        self.step, self.term, self.value = step, term, value
        self.model = None
        self.result = None
        self.last_finite_step: int | None = None
        self.rows: list = []
        super().__init__(
            f"loss term {term!r} became {value} at step {step}; lower the learning rate, "
            "check the problem's residual for divisions by zero, or use float64"
        )


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped an iterative method; ``checkpoint`` is the last checkpoint written (or
    resumed from), ``None`` when there is none, and ``step`` the step reached. ``str()`` is a
    one-line message saying how to resume."""

    def __init__(self, what: str, step: int, checkpoint=None):
        self.step, self.checkpoint = step, checkpoint
        where = (f"the last checkpoint is {checkpoint}; run the same call again to resume from it" if checkpoint
                 else "no checkpoint was written (set checkpoint_dir and checkpoint_every to be able to resume)")
        super().__init__(f"{what} interrupted at step {step}: {where}")
