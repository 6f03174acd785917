r"""Parametric PINNs: one network over the domain *and* a parameter, for out-of-distribution checks.

For a problem with residual :math:`R[u](x; \mu)`, conditions :math:`B_c[u](x) = g_c(x; \mu)`
on faces :math:`F_c` of the box :math:`\Omega`, and a parameter :math:`\mu` with a range
:math:`[\mu_0, \mu_1]`, the *parametric problem* lives on the extended box

.. math:: \tilde\Omega = \Omega \times [\mu_0, \mu_1] \ni (x, p),

with residual :math:`\tilde R[u](x, p) = R[u](x; \mu = p)` (partials in :math:`x` only, so the
declared partial names are unchanged), each condition on the extended face
:math:`F_c \times [\mu_0, \mu_1]` with target :math:`g_c(x; p)`, and reference
:math:`\tilde u^*(x, p) = u^*(x; \mu = p)` evaluated once per distinct value of :math:`p`.
It is an ordinary :class:`pinndd.Problem`, so every registered method, the trainer and the
evaluator work on it unchanged.

Parametric problems hold by construction: the problem contract asks every function (residual,
condition values, hard-constraint transform) to accept each parameter as a float or as a
tensor of one value per point, with the same result, and
:func:`pinndd.engine.checks.check_problem` verifies it on every problem before it is trained
or made parametric. The substitution passes the column :math:`p` in place of the float, with
no probing and no per-value path; a function written with Python floats (``math.sin``,
``float(p[name])``, an ``if`` on a parameter) is refused with a one-line error saying so.

A network trained on :math:`\tilde\Omega` is evaluated at a value :math:`\mu` by fixing its
last input to :math:`\mu` (:class:`FixedParameter`); outside :math:`[\mu_0, \mu_1]` this
*extrapolates* in :math:`p` (the MLP's input scaling maps the training range to
:math:`[-1, 1]` and continues affinely beyond it). :class:`ParametricTeacher` turns such a
network into a :class:`pinndd.methods.labelled.teacher.Teacher` for any shifted problem, e.g. to relabel a
labelled point set for shifted boundary conditions (:func:`pinndd.eval.ood.retrain_ood`).
"""

from ._problem import ParametricProblem, parametric_problem
from ._training import FixedParameter, ParametricResult, ParametricTeacher, evaluate_parametric, train_parametric

__all__ = [
    "FixedParameter", "ParametricProblem", "ParametricResult", "ParametricTeacher", "evaluate_parametric",
    "parametric_problem", "train_parametric",
]
