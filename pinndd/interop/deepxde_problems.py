"""DeepXDE problems as pinndd problems (:func:`problem_from_deepxde`): a box geometry, its
``pde(x, y)`` and its ``DirichletBC``/``NeumannBC``/``IC``/``PeriodicBC`` objects become a
:class:`~pinndd.problem.Problem`, so points can be distilled for a problem a DeepXDE user already
has (see :mod:`pinndd.interop.deepxde`)."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Mapping

import numpy as np
import torch

from ..conditions import canonical_partial, dirichlet, initial_value, neumann, periodic
from ..domain import Box
from ..errors import PinnddError
from ..problem import Problem
from ._dde import import_deepxde

_AXIS_NAMES = ("x", "y", "z")


def _box(dde, geom) -> tuple[Box, bool]:
    """The box of a DeepXDE geometry and whether its last coordinate is time."""
    if isinstance(geom, dde.geometry.GeometryXTime):
        space, _ = _box(dde, geom.geometry)
        td = geom.timedomain
        return Box(names=(*space.names, "t"), lower=(*space.lower, float(td.t0)), upper=(*space.upper, float(td.t1))), True
    if isinstance(geom, dde.geometry.Interval):
        return Box(names=("x",), lower=(float(geom.l),), upper=(float(geom.r),)), False
    if isinstance(geom, dde.geometry.Hypercube):
        lo, hi = np.asarray(geom.xmin, dtype=float), np.asarray(geom.xmax, dtype=float)
        if len(lo) > len(_AXIS_NAMES):
            raise PinnddError(f"a {len(lo)}-d Hypercube has no coordinate names here (at most {len(_AXIS_NAMES)} space axes)")
        return Box(names=_AXIS_NAMES[: len(lo)], lower=tuple(lo), upper=tuple(hi)), False
    raise PinnddError(f"DeepXDE geometry {type(geom).__name__} is not a box; pinndd problems live on boxes "
                      "(Interval, Rectangle, Hypercube, Cuboid, optionally x time)")


@contextlib.contextmanager
def _patched(module, **functions):
    old = {k: getattr(module, k) for k in functions}
    try:
        for k, v in functions.items():
            setattr(module, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(module, k, v)


def _probe_partials(dde, pde: Callable, box: Box) -> tuple[str, ...]:
    """The partials ``pde(x, y)`` asks ``dde.grad`` for, found by calling it once on a smooth
    test field."""
    names = box.names
    found: set[str] = {"u"}
    x = torch.as_tensor(box.from_unit(np.random.default_rng(0).random((8, box.dim))), dtype=torch.float64).requires_grad_()
    y = (torch.sin(x @ torch.linspace(0.3, 1.1, box.dim, dtype=torch.float64)) + x.sum(-1) ** 3)[:, None]
    known = {id(y): "u"}
    jac, hes = dde.grad.jacobian, dde.grad.hessian

    def name_of(ys, extra: str) -> str:
        if id(ys) not in known:
            raise PinnddError("the pde differentiates an expression of y (not y or one of its derivatives); "
                              "pinndd needs the residual in partials of u: rewrite it, e.g. (y**2)_x as 2 y y_x")
        return canonical_partial(known[id(ys)] + ("_" if known[id(ys)] == "u" else "") + extra, box)

    def record(out, name):
        known[id(out)] = name
        found.add(name)
        return out

    def probe_jacobian(ys, xs, i=None, j=None):
        if j is None or (i not in (None, 0)):
            raise PinnddError("the pde asks dde.grad.jacobian for a whole Jacobian or another output component; "
                              "pinndd imports single-output pdes with explicit i=0, j=<axis>")
        return record(jac(ys, xs, i=0, j=j), name_of(ys, names[j]))

    def probe_hessian(ys, xs, component=0, i=0, j=0):
        if component not in (None, 0):
            raise PinnddError("the pde asks for the Hessian of another output component; pinndd imports single-output pdes")
        return record(hes(ys, xs, component=0, i=i, j=j), name_of(ys, names[i] + names[j]))

    with _patched(dde.grad, jacobian=probe_jacobian, hessian=probe_hessian):
        try:
            r = pde(x, y)
        except PinnddError:
            raise
        except Exception as e:
            raise PinnddError(f"calling the DeepXDE pde on test points failed: {type(e).__name__}: {e}") from None
    if isinstance(r, list | tuple):
        raise PinnddError("the pde returns several residuals (a system); pinndd imports single-equation problems")
    return tuple(sorted(found))


def _residual(dde, pde: Callable, box: Box):
    names = box.names

    def residual(d, x, p):
        X = torch.stack([x[n] for n in names], -1)
        Y = d["u"][..., None]
        known = {id(Y): "u"}

        def lookup(ys, extra):
            base = known[id(ys)]
            name = canonical_partial(base + ("_" if base == "u" else "") + extra, box)
            out = d[name][..., None]
            known[id(out)] = name
            return out

        def jacobian(ys, xs, i=None, j=None):
            return lookup(ys, names[j])

        def hessian(ys, xs, component=0, i=0, j=0):
            return lookup(ys, names[i] + names[j])

        with _patched(dde.grad, jacobian=jacobian, hessian=hessian):
            r = pde(X, Y)
        return r[..., 0]

    return residual


def _value_fn(func: Callable):
    f = inspect.unwrap(func)

    def value(x, p):
        first = next(iter(x.values()))
        X = torch.stack(list(x.values()), -1).reshape(-1, len(x)).detach().cpu().double().numpy()
        v = np.asarray(f(X), dtype=np.float64).reshape(-1)
        v = np.full(len(X), v[0]) if v.size == 1 else v
        return torch.as_tensor(v, dtype=first.dtype, device=first.device).reshape(first.shape)

    return value


def _faces_of(bc, geom, box: Box, initial: bool = False) -> list:
    """The box faces a DeepXDE BC covers (tested at points inside each face)."""
    faces = []
    u = np.random.default_rng(1).uniform(0.05, 0.95, (16, max(box.dim - 1, 1)))[:, : box.dim - 1]
    for name in box.names:
        for side in ("lower", "upper"):
            face = box.face(name, side)
            X = face.from_unit(u) if box.dim > 1 else np.array([[face.value]])
            on = geom.on_initial(X) if initial else geom.on_boundary(X)
            mask = (bc.on_initial if initial else bc.on_boundary)(X, on)
            if mask.all():
                faces.append(face)
            elif mask.any():
                raise PinnddError(f"a {type(bc).__name__} covers part of face {face.label}; pinndd conditions cover whole faces")
    if not faces:
        raise PinnddError(f"a {type(bc).__name__} covers no face of the box {list(zip(box.lower, box.upper))}")
    return faces


def problem_from_deepxde(geometry=None, pde: Callable | None = None, icbcs=(), *, data=None, name: str = "deepxde",
                         reference: Callable | None = None, params: Mapping[str, float] | None = None) -> Problem:
    """A pinndd :class:`Problem` from a DeepXDE problem.

    Pass ``data`` (a ``dde.data.PDE`` or ``TimePDE``) or its pieces ``geometry``, ``pde`` and
    ``icbcs``. Each face a ``DirichletBC``/``NeumannBC`` covers becomes its own condition (named
    ``<kind>_<coordinate>_<side>``; DeepXDE would average faces under one BC together), an ``IC``
    an initial condition, a ``PeriodicBC`` (order 0) a periodic one. ``reference(points) ->
    values`` (default ``data.soln``) makes errors measurable. DeepXDE pdes have no parameters;
    ``params`` are stored for shifts of the reference only.

    Raises
    ------
    PinnddError
        Non-box geometries, Robin/operator/point-set BCs, multi-output or system pdes, BCs that
        cover part of a face, and pdes that differentiate expressions of ``y``.
    """
    dde = import_deepxde()
    if data is not None:
        geometry, pde, icbcs = data.geom, data.pde, data.bcs
        reference = reference or getattr(data, "soln", None)
    if geometry is None or pde is None:
        raise PinnddError("give data=<dde.data.PDE> or geometry=, pde= and icbcs=")
    box, timed = _box(dde, geometry)
    partials = _probe_partials(dde, pde, box)
    conditions = []
    used: dict[str, int] = {}

    def unique(base: str) -> str:
        used[base] = used.get(base, 0) + 1
        return base if used[base] == 1 else f"{base}_{used[base]}"

    for bc in icbcs:
        kind = type(bc).__name__
        if getattr(bc, "component", 0) not in (0, None):
            raise PinnddError(f"{kind} on output component {bc.component}: pinndd imports single-output problems")
        if isinstance(bc, dde.icbc.IC):
            if not timed:
                raise PinnddError("an IC needs a GeometryXTime")
            _faces_of(bc, geometry, box, initial=True)
            conditions.append(initial_value(unique("initial"), box, _value_fn(bc.func), time="t"))
        elif isinstance(bc, dde.icbc.PeriodicBC):
            if bc.derivative_order != 0:
                raise PinnddError("PeriodicBC with derivative_order 1 has no pinndd counterpart (only u(lower) = u(upper))")
            coord = box.names[bc.component_x]
            conditions.append(periodic(unique(f"periodic_{coord}"), box, coord))
        elif type(bc) in (dde.icbc.DirichletBC, dde.icbc.NeumannBC):
            make = dirichlet if isinstance(bc, dde.icbc.DirichletBC) else neumann
            for face in _faces_of(bc, geometry, box):
                conditions.append(make(unique(f"{make.__name__}_{face.coordinate}_{face.side}"), face, _value_fn(bc.func)))
        else:
            raise PinnddError(f"{kind} is not supported: pinndd imports DirichletBC, NeumannBC, IC and PeriodicBC "
                              "(operator, Robin and point-set conditions have no face-wise pinndd counterpart; "
                              "PointSetBC data can become a labelled set instead)")
    ref = None
    if reference is not None:
        def ref(points, p):
            return np.asarray(reference(points), dtype=np.float64).reshape(-1)

    return Problem(name=name, domain=box, partials=partials, residual=_residual(dde, pde, box), conditions=tuple(conditions),
                   params=dict(params or {}), reference_fn=ref, description="imported from DeepXDE")
