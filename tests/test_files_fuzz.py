"""Files a user receives: point sets and distiller checkpoints are never unpickled; random byte
flips and truncations of valid files give a PinnddError or an intact set, never another
exception; saves are atomic; a damaged latest checkpoint falls back to the previous one."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import equations
from pinndd import PinnddError, PointSet, methods
from pinndd.npz import read_npz, write_npz

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def heat():
    return equations.get("heat")


@pytest.fixture(scope="module")
def saved(heat, tmp_path_factory):
    """A labelled point set's bytes (labels make every array kind appear)."""
    ps = methods.get("sobol").make(heat, 12, seed=0)
    ps = PointSet(ps.interior, None, ps.conditions, np.linspace(0, 1, ps.n_interior), 10.0,
                  {**ps.metadata, "labels_params": dict(heat.params)})
    path = ps.save(tmp_path_factory.mktemp("fuzz") / "set.npz")
    return path.read_bytes()


def _damage(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    b = bytearray(data)
    for pos, xor in flips:
        b[pos % len(b)] ^= xor
    return bytes(b[:cut] if cut is not None else b)


damage = dict(
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=4),
    cut=st.none() | st.integers(0, 4000),
)


@FUZZ
@given(**damage)
def test_damaged_point_set_is_refused_or_intact(saved, heat, tmp_path, flips, cut):
    path = tmp_path / "damaged.npz"
    path.write_bytes(_damage(saved, flips, cut if cut is None else cut % len(saved)))
    try:
        ps = PointSet.load(path, heat)
    except PinnddError as e:
        assert "\n" not in str(e) and "allow_pickle" not in str(e)
        return
    assert isinstance(ps, PointSet)  # a flip the zip format cannot see (e.g. a timestamp): still a valid set


@pytest.mark.parametrize("pos", [2, 3])
def test_a_flipped_zip_signature_is_not_diagnosed_as_a_pickle(saved, heat, tmp_path, pos):
    """numpy takes a file whose first bytes are not a zip or .npy signature for a pickle and
    advises allow_pickle; pinndd says what the file is instead (found by the fuzz test above)."""
    path = tmp_path / "flipped.npz"
    path.write_bytes(_damage(saved, [(pos, 0x10)], None))
    with pytest.raises(PinnddError, match="not an .npz archive written by pinndd") as info:
        PointSet.load(path, heat)
    assert "pickle" not in str(info.value)


@pytest.fixture(scope="module")
def checkpoints(heat, tmp_path_factory):
    """Checkpoints of a tiny gradient_matching run at steps 1 and 2, and its final set."""
    folder = tmp_path_factory.mktemp("ckpt")
    m = methods.get("gradient_matching", **TINY_GM, outer_steps=2, checkpoint_every=1, checkpoint_dir=str(folder))
    return folder, m.make(heat, 8, seed=1)


TINY_GM = dict(width=6, depth=2, dense=64, n_experts=1, expert_steps=20, expert_every=5, states_per_step=1,
               progress=False)


@FUZZ
@given(**damage)
def test_damaged_checkpoint_reads_as_pinndd_error_only(checkpoints, tmp_path, flips, cut):
    folder, _ = checkpoints
    data = sorted(folder.glob("*.npz"))[-1].read_bytes()
    path = tmp_path / "ckpt.npz"
    path.write_bytes(_damage(data, flips, cut if cut is None else cut % len(data)))
    try:
        arrays = read_npz(path, "checkpoint")
    except PinnddError as e:
        assert "\n" not in str(e)
        return
    assert all(isinstance(a, np.ndarray) for a in arrays.values())


@pytest.mark.parametrize("how", ["truncated", "text", "foreign"])
def test_damaged_latest_checkpoint_falls_back_to_the_previous_one(heat, checkpoints, tmp_path, caplog, how):
    """The step-2 checkpoint is damaged: a rerun resumes from step 1 and ends with the same set."""
    folder, full = checkpoints
    copy = tmp_path / "ckpt"
    copy.mkdir()
    for p in folder.glob("*.npz"):
        (copy / p.name).write_bytes(p.read_bytes())
    latest = sorted(copy.glob("*.npz"))[-1]
    if how == "truncated":
        latest.write_bytes(latest.read_bytes()[: latest.stat().st_size // 2])
    elif how == "text":
        latest.write_text("not a checkpoint")
    else:
        np.savez(latest, step=np.array(2), other=np.zeros(3))
    m = methods.get("gradient_matching", **TINY_GM, outer_steps=2, checkpoint_every=1, checkpoint_dir=str(copy))
    resumed = m.make(heat, 8, seed=1)
    assert resumed.metadata["resumed_from_step"] == 1
    assert "skipping unreadable checkpoint" in caplog.text
    np.testing.assert_array_equal(resumed.interior, full.interior)
    assert resumed.metadata["outer_log"] == full.metadata["outer_log"]


def test_a_crash_mid_save_keeps_the_previous_file(heat, tmp_path, monkeypatch):
    ps = methods.get("sobol").make(heat, 12, seed=0)
    path = ps.save(tmp_path / "set.npz")
    before = path.read_bytes()

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        methods.get("sobol").make(heat, 16, seed=1).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["set.npz"]  # no temporary file left behind


def test_object_arrays_are_never_written(tmp_path):
    with pytest.raises(PinnddError, match="dtype object"):
        write_npz(tmp_path / "x.npz", {"a": np.array([{"k": 1}], dtype=object)})


def test_nothing_in_the_package_unpickles_a_file():
    """No file loader in the package may unpickle: np.load only with allow_pickle=False, no
    pickle.load and no torch.load of a file (models are stored as arrays and JSON). In-memory
    payloads a process sends itself (the sweep engine's Ray tasks) are not files a user receives."""
    root = Path(__file__).resolve().parents[1] / "pinndd"
    bad = []
    for f in root.rglob("*.py"):
        for i, line in enumerate(f.read_text().splitlines(), 1):
            if "np.load(" in line and "allow_pickle=False" not in line:
                bad.append(f"{f.name}:{i}: {line.strip()}")
            if re.search(r"(?<!cloud)pickle\.load\(|torch\.load\(|allow_pickle=True", line):
                bad.append(f"{f.name}:{i}: {line.strip()}")
    assert not bad, bad
