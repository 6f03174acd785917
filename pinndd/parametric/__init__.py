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

Residual and condition functions are written with torch operations on ``p[name]``; passing the
tensor column :math:`p` (shape ``(n,)``) in place of the float broadcasts. Functions that need a
Python float (``torch.full_like(x, p[name])``, ``float(p[name])``, ``math.*``) are detected when
the parametric problem is built (a probe compares the broadcast call with one call per
parameter value) and then evaluated once per distinct parameter value instead: correct, but
slower where the points carry many distinct values. :attr:`ParametricProblem.fallbacks`
names them. Condition targets on the slow path are cached for the training points (they do
not depend on the network).

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
