"""The on-disk teacher cache shared by several processes (the Ray workers of a sweep): two workers
racing for one key train it once and end with the same valid model, and a reader never sees a
partial file while writers replace it."""

import json
import multiprocessing as mp
import os
import time

import numpy as np
import pytest

SETTINGS = dict(width=6, depth=2, adam_steps=60, lr=1e-2, log_every=20, progress=False)
REWRITES = 25


def race(folder: str, barrier, queue) -> None:
    """A worker: wait for the other, ask for the teacher run, then write it again and again."""
    os.environ["PINNDD_TEACHER_CACHE"] = folder
    import torch

    torch.set_num_threads(1)
    import equations
    from pinndd import TrainConfig
    from pinndd.methods.labelled import teacher, teacher_cache

    problem = equations.get("heat")
    config = TrainConfig(**SETTINGS)
    barrier.wait()
    model, cost = teacher.dense_run(problem, 48, config, seed=5)
    key = teacher_cache.run_key(problem, 48, config, 5, "sobol")
    for _ in range(REWRITES):  # concurrent writers of one key
        teacher_cache.save(key, model, cost)
    queue.put((os.getpid(), cost, {k: v.detach().numpy() for k, v in model.state_dict().items()}))


@pytest.mark.skipif(os.name != "posix", reason="the cache's lock uses POSIX flock; elsewhere each process trains")
def test_two_workers_racing_for_one_key(tmp_path):
    ctx = mp.get_context("spawn")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=race, args=(str(tmp_path), barrier, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    seen, reads = set(), 0
    deadline = time.monotonic() + 120
    while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
        for path in tmp_path.glob("teacher-*.npz"):
            if ".tmp" in path.name:
                continue
            try:
                with np.load(path, allow_pickle=False) as f:  # a whole file every time it is there
                    meta = json.loads(str(f["metadata"]))
                    arrays = {k: f[k] for k in f.files if k != "metadata"}
            except FileNotFoundError:
                continue  # replaced between glob and open
            assert meta["format"] == 1 and arrays and all(np.isfinite(a).all() for a in arrays.values())
            seen.add(meta["cost_seconds"])
            reads += 1
        time.sleep(0.002)
    results = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    (pid_a, cost_a, state_a), (pid_b, cost_b, state_b) = results
    assert pid_a != pid_b
    # trained once: the second worker waited on the lock and loaded the first one's file (the
    # recorded cost of that training), and both hold the same network
    assert cost_a == cost_b and seen <= {cost_a}
    assert state_a.keys() == state_b.keys()
    for k in state_a:
        np.testing.assert_array_equal(state_a[k], state_b[k])
    assert reads > 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len([f for f in files if f.endswith(".npz")]) == 1 and not [f for f in files if ".tmp" in f]

    # and the file left behind serves a later process without training
    os.environ["PINNDD_TEACHER_CACHE"] = str(tmp_path)
    try:
        import equations
        from pinndd import TrainConfig
        from pinndd.methods.labelled import teacher_cache

        problem, config = equations.get("heat"), TrainConfig(**SETTINGS)
        hit = teacher_cache.load(problem, config, teacher_cache.run_key(problem, 48, config, 5, "sobol"))
        assert hit is not None and hit[1] == cost_a
    finally:
        del os.environ["PINNDD_TEACHER_CACHE"]
