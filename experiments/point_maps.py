"""Where the points went: several methods' sets over the dense PINN's error map.

    python experiments/point_maps.py --pde burgers --budget 256 --methods sobol rad teacher_density gradient_matching

Trains the dense teacher (quick protocol, cached within the run), makes each method's set at
``--budget`` interior points (seed ``--seed``) and draws them side by side over the teacher's
``|u - u_ref|`` (marker area = weight). Writes ``points_<pde>_<budget>.png``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import equations
from pinndd import methods, protocols
from pinndd.methods.labelled.teacher import train_teacher
from pinndd.plotting import plot_point_sets


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pde", default="burgers")
    ap.add_argument("--budget", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", nargs="+", default=["sobol", "rad", "teacher_density", "gradient_matching"])
    ap.add_argument("--protocol", default="quick")
    ap.add_argument("--out", default="experiments/results/figures")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    problem = equations.get(args.pde)
    proto = protocols.get(args.protocol)
    teacher = train_teacher(problem, proto.dense, proto.train)
    sets = {name: methods.get(name).make(problem, args.budget, seed=args.seed) for name in args.methods}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"points_{args.pde}_{args.budget}.png"
    plot_point_sets(problem, teacher.model, sets, path,
                    title=f"{args.pde}: {args.budget} interior points over the dense PINN's error "
                          f"(L2RE {teacher.info.get('l2re', float('nan')):.3g})")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
