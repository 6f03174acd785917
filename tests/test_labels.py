"""Labels as typed parts of a point set (pinndd/labels.py): records, files, rebuilding the teacher,
and the refusal of labels made for other (or unknown) parameters."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import equations
from pinndd import PinnddError, PointSet, TrainConfig, methods, protocols, train
from pinndd.labels import DEFAULT_LABEL_WEIGHT, LabelRecord, TeacherRecord
from pinndd.methods.labelled import teacher as teachers
from pinndd.methods.labelled.teacher_sets import TeacherSettings
from pinndd.npz import read_npz, write_npz

TINY = TrainConfig(width=4, depth=1, adam_steps=3, lbfgs_steps=0, progress=False)


@pytest.fixture
def labelled(heat):
    torch.set_num_threads(1)
    return methods.get("teacher_labels", teacher_dense=64, teacher_protocol="smoke").make(heat, 16, seed=3)


def test_a_labelled_set_carries_values_weight_params_and_teacher(heat, labelled):
    lab = labelled.labels
    assert lab.weight == DEFAULT_LABEL_WEIGHT == TeacherSettings().target_weight
    np.testing.assert_array_equal(lab.values, labelled.targets)
    assert lab.params == dict(heat.params)
    t = lab.teacher
    assert t.source == "dense-pinn" and t.problem == "heat" and t.cost_seconds > 0
    assert t.settings["seed"] == 3 and t.settings["dense"] == 64 and t.settings["candidates"] == 1
    assert "l2re" in t.diagnostics and "l2re" not in t.settings
    assert methods.get("sobol").make(heat, 16).labels is None


def test_the_record_survives_a_file_and_rebuilds_the_teacher(heat, labelled, tmp_path):
    back = PointSet.load(labelled.save(tmp_path / "s.npz"), heat)
    assert back.label_record == labelled.label_record
    teachers.TEACHERS.clear()  # rebuilt by training again with the recorded settings, not from the cache
    rebuilt = teachers.rebuild(back.labels.teacher, heat.with_params(TL=0.5))  # the record's parameters win
    assert dict(rebuilt.params) == dict(heat.params)
    np.testing.assert_array_equal(rebuilt.predict(back.interior), back.targets)  # bitwise: same settings, CPU
    shifted = {**heat.params, "TL": 0.5}  # a teacher of the same kind for a shifted problem (per-shift relabelling)
    other = teachers.rebuild(back.labels.teacher, heat, shifted)
    assert dict(other.params) == shifted and other.info["config"] == back.labels.teacher.settings["config"]


def test_version_1_files_get_their_record_from_the_metadata(heat, labelled, tmp_path):
    path = labelled.save(tmp_path / "v2.npz")
    arrays = read_npz(path)
    del arrays["label_record"]
    arrays["format_version"] = np.array(1)
    write_npz(tmp_path / "v1.npz", arrays)
    old = PointSet.load(tmp_path / "v1.npz", heat)
    assert old.label_record.params == labelled.label_record.params
    assert old.label_record.teacher.settings == labelled.label_record.teacher.settings


def test_labels_without_a_record_serve_only_the_nominal_problem(heat):
    ps = methods.get("sobol").make(heat, 16, seed=0)
    hand = PointSet(ps.interior, None, ps.conditions, np.zeros(ps.n_interior))  # values given by hand, no record
    assert hand.labels.record is None
    train(heat, hand, TINY)  # nominal parameters: accepted
    with pytest.raises(PinnddError, match="no label record"):
        train(heat.with_params(TL=0.3), hand, TINY)
    recorded = PointSet(ps.interior, None, ps.conditions, np.zeros(ps.n_interior),
                        label_record=LabelRecord({"TL": 0.3, **{k: v for k, v in heat.params.items() if k != "TL"}}, "user"))
    train(heat.with_params(TL=0.3), recorded, TINY)  # made for these parameters: accepted
    with pytest.raises(PinnddError, match="made for parameters"):
        train(heat, recorded, TINY)


def test_labels_made_for_the_nominal_problem_are_refused_when_shifted(heat, labelled):
    with pytest.raises(PinnddError, match="made for parameters"):
        train(heat.with_params(TL=0.25), labelled, TINY)
    train(heat.with_params(TL=0.25), labelled.without_labels(), TINY)


def test_bad_records_are_refused(heat):
    ps = methods.get("sobol").make(heat, 8)
    with pytest.raises(PinnddError, match="needs labels"):
        PointSet(ps.interior, None, ps.conditions, label_record=LabelRecord(dict(heat.params), "user"))
    with pytest.raises(PinnddError, match="teacher they came from"):
        LabelRecord(dict(heat.params), "teacher")
    with pytest.raises(PinnddError, match="label kind"):
        LabelRecord(dict(heat.params), "guessed")
    with pytest.raises(PinnddError, match="cannot rebuild"):
        teachers.rebuild(TeacherRecord("model", "heat", dict(heat.params)), heat)
    with pytest.raises(PinnddError, match="problem 'heat'"):
        teachers.rebuild(TeacherRecord("reference", "heat", dict(heat.params)), equations.get("burgers"))


def test_a_damaged_record_in_a_file_is_refused(heat, labelled, tmp_path):
    arrays = read_npz(labelled.save(tmp_path / "s.npz"))
    arrays["label_record"] = np.array(json.dumps({"kind": "teacher"}))  # no params
    write_npz(tmp_path / "bad.npz", arrays)
    with pytest.raises(PinnddError):
        PointSet.load(tmp_path / "bad.npz", heat)


def test_seeds_drive_the_teacher(heat):
    """Sets of different seeds are independent pipelines: their teachers differ; a fixed
    ``teacher_seed`` shares one."""
    m = methods.get("teacher_labels", teacher_dense=64, teacher_protocol="smoke")
    a, b = (m.make(heat, 8, seed=s).label_record.teacher for s in (0, 1))
    assert (a.settings["seed"], a.settings["config"]["seed"], b.settings["seed"], b.settings["config"]["seed"]) == (0, 0, 1, 1)
    shared = methods.get("teacher_labels", teacher_dense=64, teacher_protocol="smoke", teacher_seed=7)
    c, d = (shared.make(heat, 8, seed=s).label_record.teacher for s in (0, 1))
    assert c == d and c.settings["seed"] == 7
    assert protocols.get("smoke").train.seed == 0
