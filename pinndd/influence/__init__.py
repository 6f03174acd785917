r"""Which points carry the information: the influence of each training point on a trained PINN.

A PINN trained on a point set minimises

.. math:: L(\theta) = \sum_b \frac{1}{m_b} \sum_{i \in b} c_i\, r_i(\theta)^2 ,

a sum over *blocks* :math:`b` (the PDE residual at the interior points, each condition at its
points, the data term of a labelled set), with :math:`m_b` the block's number of points and
:math:`c_i = \lambda_b w_i` the condition weight times the point weight (the trainer's loss,
:mod:`pinndd.engine.losses`). Removing point :math:`j` from its block and training again as the trainer
does (the mean over the :math:`m_b - 1` points left) changes the loss by

.. math:: D_j(\theta) = \frac{1}{m_b - 1}\Big(T_b(\theta) - c_j\, r_j(\theta)^2\Big),
          \qquad T_b = \frac{1}{m_b}\sum_{i \in b} c_i r_i^2

(a labelled interior point leaves its PDE and its data block at once). One Newton step from the
trained parameters :math:`\theta^*` gives :math:`\Delta\theta_j \approx -H^{-1} \nabla D_j`, so a
quantity :math:`Q(\theta)` changes by

.. math:: \Delta Q_j \approx -\nabla Q^\top H^{-1} \nabla D_j = -v^\top \nabla D_j,
          \qquad v = H^{-1} \nabla Q,

and :math:`v^\top \nabla r_i = (J v)_i` for every point at once: **one** linear solve and one
Jacobian-vector product give the influence of every point (Koh and Liang 2017; for PINNs,
PINNfluence, Naujoks et al., arXiv 2506.16443). :func:`point_influence` returns
:math:`\Delta Q_j`, the *predicted change of Q when point j is removed*: positive means the
point is useful (without it Q, an error, would rise), negative that it hurts.

Quantities :math:`Q`:

- ``"reference"``: the L2 relative error against the reference on the problem's evaluation grid;
- ``"physics"``: the physics loss :math:`L_{pde} + \sum_c \lambda_c L_c` on a held-out set
  (4096 uniform interior points and 256 per condition by default): reference-free;
- any callable ``model -> scalar tensor``.

The curvature :math:`H` (``hessian``):

- ``"gauss_newton"`` (default): :math:`G = 2 J^\top C J`, products by a Jacobian-vector and a
  vector-Jacobian product. :math:`G` is positive semi-definite for any parameters, so conjugate
  gradients never meet negative curvature, also at a network that is not at a minimum (a short
  warm-up, Adam stopped early), where the exact Hessian is often indefinite. At a minimum with
  small residuals the two agree: they differ by :math:`2 \sum_i c_i r_i \nabla^2 r_i / m_b`.
- ``"exact"``: Hessian-vector products by double backward; the right choice at a well-converged
  minimum (it is what leave-one-out retraining follows), and CG stops with a logged warning at a
  direction of negative curvature.

Both are solved by conjugate gradients on :math:`(H + \delta I) v = \nabla Q` with
:math:`\delta` = ``damping`` times :math:`\mathrm{tr}(H)/P` (Hutchinson estimate, ``P``
parameters). The Gauss-Newton matrix has rank at most the number of points: with more parameters
than points a small damping lets :math:`v` grow along the null space and a large one turns the
method into gradient alignment (measured before this module existed); with fewer
parameters than points (the check in the tests) a tiny damping is exact.

``method="alignment"`` is the cheap baseline: :math:`H = I` (:math:`v = \nabla Q`), the change of
Q after one unit gradient step on :math:`D_j` (TracIn-like, at the final parameters only). It
needs no solve; it ranks by the alignment of each point's gradient with Q's gradient.

:func:`candidate_influence` scores points *not* in the set: the predicted change of Q when the
candidate is added to the interior (the same algebra with :math:`m \to m + 1`); the
``influence_select`` method (:mod:`pinndd.methods.adaptive.influence_select`) keeps pool points by it.

Everything runs on a float64 copy of the model (``dtype``); the model passed in is untouched.
"""

from ._blocks import HESSIANS, METHODS, QUANTITIES, Quantity, held_out_set
from ._core import Influence, candidate_influence, point_influence, reference_grid_error
from ._linalg import conjugate_gradient, jvp

__all__ = ["HESSIANS", "METHODS", "QUANTITIES", "Influence", "Quantity", "candidate_influence", "conjugate_gradient",
           "held_out_set", "jvp", "point_influence", "reference_grid_error"]
