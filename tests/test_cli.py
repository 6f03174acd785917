import json

from pinndd.cli import main


def test_run_writes_a_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["run", "--pde", "heat", "--dense", "128", "--budget", "32", "--adam-steps", "20",
               "--lbfgs-steps", "0", "--out", str(out)])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["runs"]) == {"dense", "small"}
    for label in ("dense", "small"):
        assert (out / f"points_{label}.npz").exists() and (out / f"solution_{label}.png").stat().st_size > 10_000
        assert metrics["runs"][label]["l2re"] > 0
    assert "L2RE" in capsys.readouterr().out


def test_bad_input_is_a_clear_error(capsys):
    assert main(["run", "--pde", "no_such_pde", "--out", "/tmp/x"]) == 2
    assert "unknown problem" in capsys.readouterr().err


def test_list(capsys):
    assert main(["list"]) == 0
    assert "burgers" in capsys.readouterr().out
