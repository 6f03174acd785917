"""The command line end to end (subprocesses, smoke protocol) and its argument checks."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from pinndd import cli
from pinndd.cli import main

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PINNDD_THREADS": "1", "MPLBACKEND": "Agg"}
ROOT = Path(__file__).resolve().parents[1]

# A user's own PDE in a file (the README's cooling rod), used through --pde FILE.py:attr.
ROD = textwrap.dedent('''
    import numpy as np
    import torch
    from pinndd import Box, Problem, ShiftFamily, dirichlet, initial_value

    box = Box(names=("x", "t"), lower=(0.0, 0.0), upper=(1.0, 1.0))

    def residual(d, x, p):
        return d["u_t"] - p["kappa"] * d["u_xx"]

    def reference(points, p):
        x, t = points[:, 0], points[:, 1]
        return p["amp"] * np.exp(-p["kappa"] * np.pi**2 * t) * np.sin(np.pi * x)

    cooling = Problem(
        name="cooling_rod", domain=box, partials=("u_t", "u_xx"), residual=residual,
        conditions=(dirichlet("left", box.face("x", "lower"), 0.0), dirichlet("right", box.face("x", "upper"), 0.0),
                    initial_value("initial", box, lambda x, p: p["amp"] * torch.sin(torch.pi * x["x"]))),
        params={"kappa": 0.1, "amp": 1.0}, reference_fn=reference,
        shifts=(ShiftFamily("amp", in_range=(0.8, 1.2), out_range=(0.5, 2.0)),),
    )
''')


def pinndd(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pinndd", *map(str, args)], capture_output=True, text=True, env=ENV,
                          cwd=cwd or ROOT, timeout=300)


def ok(*args, **kw) -> str:
    r = pinndd(*args, **kw)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A user's PDE file, a distilled set for it, and a model trained on that set."""
    d = tmp_path_factory.mktemp("cli")
    (d / "rod.py").write_text(ROD)
    out = ok("distil", "--pde", d / "rod.py:cooling", "--param", "amp=1.1", "--method", "halton", "--budget", 24,
             "--protocol", "smoke", "--out", d / "set")
    assert "halton" in out and (d / "set" / "points.npz").is_file()
    out = ok("train", "--points", d / "set" / "points.npz", "--protocol", "smoke", "--adam-steps", 30, "--out", d / "trained")
    assert "L2RE" in out and "train" in out
    return d


def test_distil_writes_a_set_with_its_problem_and_a_manifest(work):
    from pinndd.pointset import PointSet

    ps = PointSet.load(work / "set" / "points.npz")
    assert ps.n_interior == 24 and ps.metadata["params"]["amp"] == 1.1
    assert ps.metadata["pde_spec"] == f"{(work / 'rod.py').resolve()}:cooling"
    manifest = json.loads((work / "set" / "manifest.json").read_text())
    for key in ("command", "config", "pinndd", "torch", "numpy", "git_commit", "machine", "device", "threads",
                "timings_seconds", "costs_seconds", "seeds"):
        assert key in manifest, key
    assert manifest["command"][:2] == ["pinndd", "distil"]


def test_train_writes_model_metrics_figure_and_the_model_evaluates_the_same(work):
    folder = work / "trained"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert {"l2re", "residual_mse", "costs_seconds", "method_config"} <= set(metrics)
    assert metrics["costs_seconds"]["train_seconds"] > 0 and "make_seconds" in metrics["costs_seconds"]
    assert (folder / "solution_trained.png").stat().st_size > 10_000
    from pinndd.model_io import read_model

    assert read_model(folder / "model_trained.npz")[0]["problem"]["params"]["amp"] == 1.1  # the set's parameters
    out = ok("eval", folder / "model_trained.npz", "--json", folder / "eval.json")  # problem found from the model file
    again = json.loads((folder / "eval.json").read_text())
    assert again["l2re"] == pytest.approx(metrics["l2re"], rel=1e-9) and "L2RE" in out


def test_eval_at_shifted_parameters(work, capsys):
    assert main(["eval", str(work / "trained" / "model_trained.npz"), "--param", "amp=1.5"]) == 0
    assert "amp=1.5" in capsys.readouterr().out


def test_show_and_plot(work, capsys):
    out = ok("show", work / "set" / "points.npz")
    assert "halton" in out and "costs" in out
    assert main(["show", str(work / "trained" / "model_trained.npz")]) == 0
    out = capsys.readouterr().out
    assert "MLP" in out and "l2re" in out
    ok("plot", "--model", work / "trained" / "model_trained.npz", "--points", work / "set" / "points.npz",
       "--out", work / "fig.png")
    assert (work / "fig.png").stat().st_size > 10_000


def test_ood_table_and_figure_with_dense_and_sobol(work, capsys):
    out = ok("ood", "--points", work / "set" / "points.npz", "--protocol", "smoke", "--adam-steps", 20, "--values",
             "0.9,1.6", "--seeds", 1, "--dense", 64, "--out", work / "ood")
    rows = json.loads((work / "ood" / "ood.json").read_text())
    assert {r["method"] for r in rows} == {"dense", "sobol", "halton"}
    assert {r["value"] for r in rows} == {0.9, 1.6} and {r["in_distribution"] for r in rows} == {True, False}
    assert (work / "ood" / "ood.png").stat().st_size > 10_000 and "out of distribution" in out
    assert main(["plot", "--results", str(work / "ood"), "--out", str(work / "ood_figs")]) == 0
    assert list((work / "ood_figs").glob("ood_*.png"))


def test_ood_scores_a_set_with_made_on_values_at_held_out_values_only(work):
    from pinndd import PointSet

    ps = PointSet.load(work / "set" / "points.npz")
    ps.metadata["made_on"] = {"param": "amp", "values": [1.0, 1.2]}  # as a task-aware set records them
    ps.save(work / "made_on.npz")
    ok("ood", "--points", work / "made_on.npz", "--protocol", "smoke", "--adam-steps", 10, "--seeds", 1, "--dense", 64,
       "--out", work / "ood_made_on")
    rows = json.loads((work / "ood_made_on" / "ood.json").read_text())
    by_method = {m: {r["value"] for r in rows if r["method"] == m} for m in {r["method"] for r in rows}}
    values = by_method["dense"]
    assert all(v == values for v in by_method.values())  # the baselines are scored where the set is
    assert values and not values & {1.0, 1.2} and all(r["held_out"] for r in rows)


def test_run_and_list(tmp_path):
    out = ok("run", "--pde", "heat", "--protocol", "smoke", "--budget", 16, "--dense", 64, "--out", tmp_path / "run")
    assert out.count("L2RE") == 2 + 3 * 3  # dense and small; the family check: 3 values x 3 strategies
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(metrics["runs"]) == {"dense", "small"}
    family = metrics["family"]
    assert family["param"] == "TL" and len(family["rows"]) == 9
    assert {r["strategy"] for r in family["rows"]} == {"ft_dense", "kit:family_interp", "ft_sobol"}
    held_out = {round(v, 9) for v in (-0.7, 0.2, 0.9)}  # heat TL in [-1, 1]: the 2nd, 4th, 6th held-out values
    assert {round(r["value"], 9) for r in family["rows"]} == held_out
    assert (tmp_path / "run" / "kit" / "kit.json").is_file() and (tmp_path / "run" / "family.png").is_file()
    no_family = ok("run", "--pde", "heat", "--protocol", "smoke", "--budget", 16, "--dense", 64, "--no-family",
                   "--out", tmp_path / "run2")
    assert no_family.count("L2RE") == 2 and "family" not in json.loads((tmp_path / "run2" / "metrics.json").read_text())
    for label, row in metrics["runs"].items():
        assert row["total_seconds"] > 0 and row["dense_trainings"] > 0
        assert (tmp_path / "run" / f"model_{label}.npz").is_file()
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert set(manifest["files"]) >= {"metrics.json", "points_dense.npz", "model_small.npz", "solution_small.png"}
    assert "burgers" in ok("list")


# ---------------------------------------------------------------------------------------------
# Argument checks (in-process: the same main(), without a process start per case)
# ---------------------------------------------------------------------------------------------
@pytest.fixture()
def a_file(tmp_path):
    f = tmp_path / "a_file"
    f.write_text("x")
    return f


BAD = [
    (["--pde", "no_such_pde"], "unknown problem"),
    (["--pde", "/no/such/file.py:problem"], "does not exist"),
    (["--method", "no_such_method"], "--method"),
    (["--protocol", "nope"], "--protocol"),
    (["--budget", "0"], "--budget"),
    (["--budget", "100000000000"], "GiB"),
    (["--threads", "0"], "--threads"),
    (["--seed", "-1"], "--seed"),
    (["--device", "tpu"], "--device"),
    (["--adam-steps", "0", "--lbfgs-steps", "0"], "nothing would be trained"),
    (["--adam-steps", "-3"], "--adam-steps"),
    (["--set", "no_such_setting=1"], "bad settings"),
    (["--set", "oops"], "name=value"),
    (["--param", "zz=1"], "no parameter"),
    (["--param", "a=abc"], "number"),
    (["--config", "/no/such.toml"], "no such file"),
]


@pytest.mark.parametrize("extra, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_arguments_give_one_line_and_status_2(extra, message, tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["run", "--protocol", "smoke", *extra, "--out", str(out)] if "--protocol" not in extra
                else ["run", *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err
    assert not out.exists()  # nothing ran


def test_cuda_without_cuda_and_bad_out_folders(a_file, capsys):
    cases = [(["--out", str(a_file)], "existing file"), (["--out", str(a_file / "sub")], "cannot write")]
    if not torch.cuda.is_available():
        cases.append((["--device", "cuda"], "no CUDA device"))
    for extra, message in cases:
        assert main(["run", "--protocol", "smoke", *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err


def test_argparse_errors_are_one_line_too(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "--budget", "many"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--budget" in err


def test_config_file_values_and_flags_over_them(tmp_path):
    cfg = tmp_path / "job.toml"
    cfg.write_text('protocol = "smoke"\nbudget = 16\nmethod = "halton"\n[params]\na = 1.2\n[settings]\nscramble = false\n')
    args = cli.build_parser().parse_args(["run", "--config", str(cfg), "--budget", "24", "--param", "gl=0.0"])
    opts = cli.resolve_options(args)
    assert opts["protocol"] == "smoke" and opts["method"] == "halton" and opts["budget"] == 24
    assert opts["params"] == {"a": 1.2, "gl": 0.0} and opts["settings"] == {"scramble": False}
    cfg.write_text("budgett = 3\n")
    assert main(["run", "--config", str(cfg)]) == 2


def test_method_settings_follow_the_protocol(tmp_path):
    args = cli.build_parser().parse_args(["run", "--protocol", "smoke", "--method", "label_exchange",
                                          "--out", str(tmp_path / "x")])
    job = cli.prepare(args, method=True)
    settings = cli.method_settings(job)
    assert settings["teacher_protocol"] == "smoke" and settings["teacher_dense"] == 128
    args = cli.build_parser().parse_args(["run", "--protocol", "smoke", "--method", "label_exchange",
                                          "--set", "teacher_dense=64"])
    assert cli.method_settings(cli.prepare(args, method=True))["teacher_dense"] == 64


def test_ctrl_c_is_one_line_and_status_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli._parser, "list_verb", interrupted)
    assert main(["list"]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err


def test_help_and_version_do_not_import_torch():
    code = ("import sys\nfrom pinndd.cli import build_parser\nfor a in (['--help'], ['run', '--help'], ['--version']):\n"
            "    try:\n        build_parser().parse_args(a)\n    except SystemExit:\n        pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "protocol" in r.stdout and "example" in r.stdout and "pinndd 0.1" in r.stdout
    bad = subprocess.run([sys.executable, "-m", "pinndd", "run", "--budget", "x"], capture_output=True, text=True,
                         env=ENV, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
