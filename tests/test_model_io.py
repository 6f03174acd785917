import json

import numpy as np
import pytest
import torch

import equations
from pinndd import PinnddError, TrainConfig, methods, train
from pinndd.engine.training import make_model
from pinndd.model_io import load_model, read_model, save_model


def _same(a, b, x):
    sa, sb = a.state_dict(), b.state_dict()
    assert set(sa) == set(sb)
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]), k
    assert torch.equal(a(x), b(x))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_trained_model_loads_back_equal(tmp_path, dtype):
    torch.set_num_threads(1)
    problem = equations.get("heat")
    config = TrainConfig(width=6, depth=2, adam_steps=5, dtype=dtype, seed=3, progress=False)
    model = train(problem, methods.get("sobol").make(problem, 16, seed=0), config).model
    path = save_model(tmp_path / "m", model, config, problem, metadata={"metrics": {"l2re": 0.5, "bad": float("nan")}})
    assert path.name == "m.npz" and not [p for p in tmp_path.iterdir() if p.name != "m.npz"]  # no temporary left
    back = load_model(path, problem)
    x = torch.rand(7, 2, dtype=getattr(torch, dtype))
    _same(model, back, x)
    meta, _ = read_model(path)
    assert meta["config"]["width"] == 6 and meta["problem"]["spec"] == "heat"
    assert meta["metadata"]["metrics"] == {"l2re": 0.5, "bad": None}  # NaN stored as null (valid JSON)


def test_hard_constraint_model_round_trip(tmp_path):
    problem = equations.get("burgers")
    config = TrainConfig(width=4, depth=1, hard=True)
    model = make_model(problem, config)
    back = load_model(save_model(tmp_path / "h.npz", model, config, problem), problem)
    assert back.hard
    _same(model, back, torch.rand(5, 2))


def test_foreign_or_damaged_files_are_refused(tmp_path):
    problem = equations.get("heat")
    ps = methods.get("sobol").make(problem, 16, seed=0)
    ps.save(tmp_path / "points.npz")
    with pytest.raises(PinnddError, match="not a pinndd model"):
        load_model(tmp_path / "points.npz", problem)
    (tmp_path / "pickled.npz").write_bytes(b"")
    np.savez(tmp_path / "pickled.npz", metadata=np.array([{"a": 1}], dtype=object))
    with pytest.raises(PinnddError):
        load_model(tmp_path / "pickled.npz", problem)
    config = TrainConfig(width=4, depth=1)
    path = save_model(tmp_path / "m.npz", make_model(problem, config), config, problem)
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    meta = json.loads(str(data["metadata"]))
    meta["config"]["width"] = 5  # tensors no longer match the settings
    data["metadata"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "edited.npz", **data)
    with pytest.raises(PinnddError, match="do not match"):
        load_model(tmp_path / "edited.npz", problem)
