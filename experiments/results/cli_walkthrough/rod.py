"""The README's cooling rod as a file, for the command-line walkthrough (``--pde rod.py:cooling``)."""

import numpy as np
import torch

from pinndd import Box, Problem, ShiftFamily, dirichlet, initial_value

box = Box(names=("x", "t"), lower=(0.0, 0.0), upper=(1.0, 1.0))


def residual(d, x, p):  # u_t = kappa u_xx
    return d["u_t"] - p["kappa"] * d["u_xx"]


def reference(points, p):
    x, t = points[:, 0], points[:, 1]
    return p["amp"] * np.exp(-p["kappa"] * np.pi**2 * t) * np.sin(np.pi * x)


cooling = Problem(
    name="cooling_rod",
    domain=box,
    partials=("u_t", "u_xx"),
    residual=residual,
    conditions=(
        dirichlet("left", box.face("x", "lower"), 0.0),
        dirichlet("right", box.face("x", "upper"), 0.0),
        initial_value("initial", box, lambda x, p: p["amp"] * torch.sin(torch.pi * x["x"])),
    ),
    params={"kappa": 0.1, "amp": 1.0},
    reference_fn=reference,
    shifts=(ShiftFamily("amp", in_range=(0.8, 1.2), out_range=(0.5, 2.0)),),
)
