import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import equations
from pinndd import PinnddError, PointSet, TrainConfig, methods, train
from pinndd.engine.losses import TensorPoints, loss_terms, total_loss
from pinndd.engine.training import make_model
from pinndd.methods.labelled.teacher import from_model, label, reference_teacher

TINY = TrainConfig(width=8, depth=2, adam_steps=20, log_every=10, progress=False)


def test_data_term_enters_loss_with_its_weight():
    problem = equations.get("heat")
    ps = label(methods.get("sobol").make(problem, 16, seed=0), reference_teacher(problem), target_weight=3.0)
    model = make_model(problem, TrainConfig(dtype="float64"))
    tp = TensorPoints.from_pointset(ps, torch.float64, "cpu")
    terms = loss_terms(problem, model, tp)
    with torch.no_grad():
        u = model(torch.as_tensor(ps.interior))
    want = np.mean((u.numpy() - ps.targets) ** 2)
    assert float(terms["data"]) == pytest.approx(want, rel=1e-12)
    without = total_loss(problem, {k: v for k, v in terms.items() if k != "data"}, {}, 3.0)
    assert float(total_loss(problem, terms, {}, 3.0) - without) == pytest.approx(3.0 * want, rel=1e-10)


def test_labelled_set_refuses_shifted_problem_until_explicit_choice():
    problem = equations.get("heat")
    ps = label(methods.get("sobol").make(problem, 16, seed=0), reference_teacher(problem))
    fam = problem.shifts[0]
    shifted = problem.with_params(**{fam.param: fam.out_range[1]})
    with pytest.raises(PinnddError, match="drop the labels"):
        train(shifted, ps, TINY)
    train(shifted, ps.without_labels(), TINY)  # explicit choice 1: drop
    relabelled = label(ps.without_labels(), reference_teacher(shifted))  # explicit choice 2: relabel
    assert train(shifted, relabelled, TINY).history["data"][-1] >= 0


def test_labels_roundtrip_with_provenance(tmp_path):
    problem = equations.get("heat")
    ps = label(methods.get("sobol").make(problem, 16, seed=0), reference_teacher(problem), target_weight=5.0)
    back = PointSet.load(ps.save(tmp_path / "l.npz"), problem)
    np.testing.assert_array_equal(back.targets, ps.targets)
    assert back.target_weight == 5.0 and back.metadata["labels"]["source"] == "reference"
    assert back.metadata["labels_params"] == dict(problem.params)


def test_teacher_methods_label_with_the_teacher(pde_name):
    problem = equations.get(pde_name)
    for name in methods.names(needs_teacher=True, learns_labels=False):
        m = methods.get(name, teacher_dense=64, teacher_protocol="smoke")
        ps = m.make(problem, 24, seed=1)
        teacher = m.teacher(problem, 1)  # the set's seed drives its teacher (independent pipelines)
        np.testing.assert_allclose(ps.targets, teacher.predict(ps.interior), rtol=1e-12)
        assert ps.metadata["teacher_seconds"] >= 0 and ps.metadata["labels"]["source"] == "dense-pinn"
        assert ps.label_record.teacher.settings["seed"] == 1 and ps.label_record.teacher.settings["config"]["seed"] == 1
        assert m.teacher(problem, 2).model is not teacher.model


def test_teacher_density_follows_the_gradient():
    """With a teacher whose gradient lives in x > 0.8 only, the drawn points go there."""
    problem = equations.get("heat")

    class Steep(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

        def forward(self, x):
            return torch.tanh(200 * (x[..., 0] - 0.9)) + 0 * self.p

    teacher = from_model(problem, Steep())
    m = methods.get("teacher_density", coverage=0.0, k=1.0)
    object.__setattr__(m, "teacher", lambda p, seed=0: teacher)  # inject the planted teacher
    ps = m.make(problem, 64, seed=0)
    frac = np.mean(ps.interior[:, 0] > 0.8)
    assert frac > 0.8, frac


@pytest.mark.parametrize("name", ["teacher_labels", "teacher_density", "label_exchange", "kip_labels", "label_outcome"])
def test_teacher_scale_lengthens_the_teacher_only(name):
    """``teacher_scale`` multiplies the teacher's Adam and L-BFGS steps (one setting shared by
    every labelling method); the relabelling path rebuilds the same teacher from the metadata."""
    from pinndd import protocols
    from pinndd.eval.ood import teacher_like

    base = protocols.get("smoke").train
    m = methods.get(name, teacher_dense=32, teacher_protocol="smoke", teacher_scale=2.5)
    cfg = m.teacher_config()
    assert (cfg.adam_steps, cfg.lbfgs_steps) == (round(2.5 * base.adam_steps), round(2.5 * base.lbfgs_steps))
    assert (cfg.width, cfg.depth, cfg.lr) == (base.width, base.depth, base.lr)
    assert methods.get(name, teacher_protocol="smoke", teacher_scale=1.0).teacher_config() == base
    if name == "label_exchange":
        assert m.student_config().adam_steps == round(base.adam_steps * m.student_fraction)
    problem = equations.get("heat")
    teacher = m.teacher(problem)
    assert teacher.info["config"]["adam_steps"] == cfg.adam_steps
    ps = label(methods.get("sobol").make(problem, 8, seed=0), teacher)
    assert teacher_like(problem, ps) is teacher  # same settings: the cached teacher
    with pytest.raises(PinnddError, match="teacher_scale"):
        methods.get(name, teacher_scale=0.0)


def test_teacher_candidates_keep_the_lowest_heldout_physics_loss(heat):
    """Best-of-k teachers: the kept one has the lowest held-out physics loss (no reference used),
    candidate 0 is the single teacher, and relabelling rebuilds the same selection."""
    from pinndd import protocols
    from pinndd.engine.evaluation import physics_loss
    from pinndd.eval.ood import teacher_like
    from pinndd.methods.labelled.teacher import train_teacher

    cfg = replace(protocols.get("smoke").train, seed=5)  # teacher_seed=5 seeds the points and the network
    one = train_teacher(heat, 64, cfg, seed=5)
    best = train_teacher(heat, 64, cfg, seed=5, candidates=3)
    losses = best.info["candidate_heldout_loss"]
    assert len(losses) == 3 and best.info["chosen"] == int(np.argmin(losses))
    held_out = methods.get("uniform").make(heat, 64, seed=5 + 1_000_003)
    assert physics_loss(heat, best.model, held_out) == pytest.approx(min(losses), rel=1e-6)
    assert best.info["candidate_l2re"][0] == pytest.approx(one.info["l2re"], rel=1e-6)
    assert len(set(np.round(losses, 12))) == 3  # the candidates differ
    m = methods.get("teacher_labels", teacher_dense=64, teacher_protocol="smoke", teacher_seed=5, teacher_candidates=3)
    assert m.teacher(heat) is best
    ps = m.make(heat, 16, seed=0)
    assert teacher_like(heat, ps) is best
    with pytest.raises(PinnddError, match="teacher_candidates"):
        methods.get("teacher_labels", teacher_candidates=0)


def test_teacher_runs_kept_on_disk_are_reused_without_pickle(heat, tmp_path, monkeypatch):
    """With $PINNDD_TEACHER_CACHE set a dense run is written once (arrays + JSON) and a later
    call returns the same network and the original cost without training; a file that does not
    match its key, is truncated or is not an array file is ignored and retrained; the key
    changes with the training code."""
    from pinndd import protocols
    from pinndd.engine.evaluation import predict
    from pinndd.methods.labelled import teacher, teacher_cache

    monkeypatch.setenv(teacher_cache.CACHE_ENV, str(tmp_path))
    cfg = protocols.get("smoke").train
    model, cost = teacher.dense_run(heat, 64, cfg, seed=3)
    files = list(tmp_path.glob("teacher-*.npz"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp.npz"))
    with np.load(files[0], allow_pickle=False) as f:  # readable without pickle
        assert json.loads(str(f["metadata"]))["cost_seconds"] == cost
    calls = []
    monkeypatch.setattr("pinndd.engine.training.train", lambda *a, **k: calls.append(1) or pytest.fail("retrained"))
    again, cost2 = teacher.dense_run(heat, 64, cfg, seed=3)
    assert not calls and cost2 == cost
    pts = methods.get("uniform").make(heat, 32, seed=1).interior
    np.testing.assert_array_equal(predict(model, pts), predict(again, pts))
    monkeypatch.undo()
    monkeypatch.setenv(teacher_cache.CACHE_ENV, str(tmp_path))
    other = heat.with_params(**{heat.shifts[0].param: heat.shifts[0].in_range[1]})
    key_other = teacher_cache.run_key(other, 64, cfg, 3, "sobol")
    target = teacher_cache.path_for(key_other)
    files[0].rename(target)  # right name, wrong key inside: ignored
    assert teacher_cache.load(other, cfg, key_other) is None
    target.write_bytes(target.read_bytes()[:200])  # truncated
    assert teacher_cache.load(other, cfg, key_other) is None
    target.write_bytes(b"not an npz")
    assert teacher_cache.load(other, cfg, key_other) is None
    teacher.dense_run(other, 64, cfg, seed=3)  # retrains and overwrites
    assert teacher_cache.load(other, cfg, key_other) is not None
    monkeypatch.setattr(teacher_cache, "code_fingerprint", lambda problem: "edited")
    assert teacher_cache.run_key(other, 64, cfg, 3, "sobol") != key_other
