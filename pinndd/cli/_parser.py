"""The parser (no torch import here) and the entry point."""

from __future__ import annotations

import argparse
import logging
import sys

from ._options import DEFAULTS, CliError
from ._reports import list_verb, ood_verb, plot_verb, show_verb
from ._verbs import distil_verb, eval_verb, run_verb, train_verb

PROTOCOLS_HELP = (
    "quick = MLP 3x32 tanh, 4000 Adam steps (lr 1e-3) + up to 1000 L-BFGS, dense set 4096 points; fits a 2-core CPU "
    "(about a minute per dense training with 1 thread). "
    "full = MLP 5x100 tanh, 20000 Adam steps, dense 8192 points; PINNacle-like, for a GPU. "
    "smoke = MLP 2x8, 40 Adam steps (lr 1e-2), dense 128 points; seconds, checks a pipeline end to end, its numbers "
    "mean nothing. Methods that train (teachers, warm-ups) follow the protocol unless --set says otherwise"
)

class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) and exit status 2."""

    def error(self, message: str):  # noqa: D401 (argparse API)
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


class _Help(argparse.RawDescriptionHelpFormatter):
    """Examples in epilogs keep their lines; defaults are written into each flag's help."""


def _problem_args(p: argparse.ArgumentParser, pde_default: str | None = DEFAULTS["pde"]) -> None:
    g = p.add_argument_group("problem")
    g.add_argument("--pde", default=None, metavar="NAME|FILE.py:ATTR|MODULE:ATTR",
                   help="a registered PDE (`pinndd list`) or your own Problem: path/to/file.py:attr or module:attr "
                        f"(attr: a Problem or a function returning one) [default: {pde_default}]")
    g.add_argument("--param", action="append", default=None, metavar="NAME=VALUE",
                   help="set a parameter of the problem, e.g. --param a=1.3 (repeatable)")
    g.add_argument("--config", default=None, metavar="FILE.toml",
                   help="TOML file of option values (keys as the flags, with _ for -; tables [params] and [settings]); "
                        "flags override it")


def _train_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--protocol", default=None, choices=None, metavar="quick|full|smoke",
                   help=f"training settings and dense size [default: quick]. {PROTOCOLS_HELP}")
    g.add_argument("--adam-steps", type=int, default=None, help="Adam steps [default: the protocol's]")
    g.add_argument("--lbfgs-steps", type=int, default=None, help="L-BFGS iterations after Adam [default: the protocol's]")
    g.add_argument("--dense", type=int, default=None, help="interior points of the dense Sobol set [default: the protocol's]")
    g.add_argument("--seed", type=int, default=None, help="seed of the point set and the network [default: 0]")
    g.add_argument("--compile", action="store_const", const=True, default=None,
                   help="compile each training step with torch.compile (2.4-4.5x faster per step on one CPU thread "
                        "than double autograd, measured; 10-40 s to compile once per shape)")
    _machine_args(g)


def _machine_args(g) -> None:
    g.add_argument("--device", default=None, metavar="auto|cpu|cuda|cuda:N",
                   help="where to train; auto = cuda when torch sees one [default: auto]")
    g.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads; 1 is fastest for small nets on small machines [default: $PINNDD_THREADS or 1]")


def _method_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("point set")
    g.add_argument("--method", default=None, help="registered method choosing the points (`pinndd list`) [default: sobol]")
    g.add_argument("--budget", type=int, default=None, help="interior points of the set; condition points follow the "
                   "budget rule, the same for every method [default: 256]")
    g.add_argument("--set", action="append", default=None, metavar="KEY=VALUE",
                   help="a method setting, e.g. --set teacher_scale=1 (JSON values; repeatable); unset ones follow the protocol")


def _job_args(p: argparse.ArgumentParser) -> None:
    """The groups of a verb that makes a set and trains on it."""
    _problem_args(p)
    _method_args(p)
    _train_args(p)


def _out_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--out", default=None, metavar="FOLDER", help=f"{what} [default: runs/<verb>-<pde>-<time>]")


EXAMPLES = {
    "run": "pinndd run                                    # Burgers, dense 4096 vs Sobol 256, quick protocol\n"
           "  pinndd run --protocol smoke --method label_exchange --budget 32",
    "distil": "pinndd distil --method teacher_density --budget 256 --out runs/td\n"
              "  pinndd distil --pde my_rod.py:cooling --param amp=1.2 --method sobol --budget 128",
    "train": "pinndd train --points runs/td/points.npz --out runs/td_train\n"
             "  pinndd train --method rad --budget 256 --protocol smoke",
    "eval": "pinndd eval runs/td_train/model_trained.npz\n  pinndd eval runs/td_train/model_trained.npz --param a=1.2",
    "ood": "pinndd ood --points runs/td/points.npz --values 0.5,0.8,1.2,1.5 --seeds 3\n"
           "  pinndd ood --method sobol --budget 256 --family a",
    "plot": "pinndd plot --model runs/td_train/model_trained.npz --points runs/td/points.npz --out fig.png\n"
            "  pinndd plot --results runs/ood-burgers-20261201-120000",
    "show": "pinndd show runs/td/points.npz\n  pinndd show runs/td_train/model_trained.npz\n  pinndd show runs/td_train",
    "list": "pinndd list",
}


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(prog="pinndd", formatter_class=_Help,
                     description="Distil the points a PINN needs: make point sets, train on them, evaluate them in and "
                                 "out of distribution, plot them.",
                     epilog="Protocols: " + PROTOCOLS_HELP + ".\nEvery verb has its own --help with examples.")
    parser.add_argument("--version", action="version", version=f"pinndd {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="VERB")

    def verb(name, helptext, func, aliases=()):
        p = sub.add_parser(name, help=helptext, description=helptext, aliases=list(aliases), formatter_class=_Help,
                           epilog="example:\n  " + EXAMPLES[name])
        p.set_defaults(func=func)
        return p

    run = verb("run", "the main job: train on a dense Sobol set and on a small set of --method, compare errors and "
               "costs, write a run folder (manifest, metrics, point sets, models, figures)", run_verb)
    _job_args(run)
    run.add_argument("--out", default=None, metavar="FOLDER", help="run folder [default: runs/<pde>-<time>]")
    run.add_argument("--no-family", dest="family_check", action="store_false", default=None,
                     help="skip the family check (a kit from the dense run solving three held-out shift values, beside "
                          "fine-tunes on the dense set and on Sobol points)")

    dis = verb("distil", "make a point set with any registered method; writes points.npz and manifest.json",
               distil_verb, aliases=("distill",))
    _problem_args(dis)
    _method_args(dis)
    g = dis.add_argument_group("protocol")
    g.add_argument("--protocol", default=None, metavar="quick|full|smoke",
                   help="ties methods' own training (teachers, warm-ups) to a protocol [default: quick]. " + PROTOCOLS_HELP)
    g.add_argument("--seed", type=int, default=None, help="seed of the point set [default: 0]")
    _machine_args(g)
    _out_arg(dis, "run folder")

    tr = verb("train", "train a PINN on a set file (--points) or on a new set of --method; writes the model, "
              "metrics and a figure", train_verb)
    tr.add_argument("--points", default=None, metavar="FILE.npz", help="a point set file (from `pinndd distil`)")
    _job_args(tr)
    _out_arg(tr, "run folder")

    ev = verb("eval", "a saved model against the reference (L2/L1 relative, max error) and its PDE residual",
              eval_verb, aliases=("evaluate",))
    ev.add_argument("model", metavar="MODEL.npz", help="a model file (from `pinndd train` or `pinndd run`)")
    _problem_args(ev, pde_default="the model's")
    g = ev.add_argument_group("machine")
    _machine_args(g)
    ev.add_argument("--json", default=None, metavar="FILE", help="also write the metrics to this JSON file")

    ood = verb("ood", "retrain on a set across a shift family (held-out values in and out of range) beside dense and "
               "Sobol at the same budget; writes a table and the error-against-shift figure", ood_verb)
    ood.add_argument("--points", default=None, metavar="FILE.npz", help="a point set file; default: a new set of --method")
    _job_args(ood)
    g = ood.add_argument_group("shifts")
    g.add_argument("--family", default=None, metavar="PARAM", help="the shifted parameter [default: the problem's first "
                   "declared shift family]")
    g.add_argument("--values", default=None, metavar="V1,V2,...", help="shift values [default: 3 in range, 2 beyond each end]")
    g.add_argument("--seeds", type=int, default=None, help="network seeds per value, from --seed on [default: 2]")
    g.add_argument("--labels", default=None, choices=["drop", "relabel", "reference"],
                   help="a labelled set's labels at shifted values: drop them, relabel with a teacher trained at each "
                        "value (costly), or use the reference (a diagnostic) [default: drop]")
    _out_arg(ood, "run folder")

    pl = verb("plot", "figures: a model's solution, reference and error with its points; several sets over the model's "
              "error map; error against budget or shift from a results folder", plot_verb)
    pl.add_argument("--model", default=None, metavar="MODEL.npz", help="a model file")
    pl.add_argument("--points", nargs="+", default=None, metavar="FILE.npz", help="point set file(s) to overlay")
    pl.add_argument("--results", default=None, metavar="FOLDER", help="a folder with ood.json (pinndd ood) or rows.json "
                    "(experiments/budget_sweep.py)")
    _problem_args(pl, pde_default="the model's")
    pl.add_argument("--out", default=None, metavar="FILE.png|FOLDER", help="where to write [default: beside the input]")

    sh = verb("show", "a set's, model's or run folder's metadata, costs and label provenance", show_verb)
    sh.add_argument("file", metavar="FILE|FOLDER", help="a point set, a model file or a run folder")

    verb("list", "registered PDEs (with parameters and shift families), methods and protocols", list_verb)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pinndd``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    try:
        from ..errors import PinnddError

        return args.func(args)
    except CliError as e:
        print(f"pinndd {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        detail = str(e) or "files already written are complete; the run folder has no manifest.json"
        print(f"pinndd {args.command}: interrupted ({detail})", file=sys.stderr)
        return 130
    except PinnddError as e:
        print(f"pinndd {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"pinndd {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
