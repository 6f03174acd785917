"""Every registered method on every registered PDE, and sampler properties."""

import numpy as np
import pytest
from scipy.stats import qmc

import equations
from pinndd import BudgetRule, PinnddError, methods
from pinndd.cost import PARTS, Cost
from pinndd.methods import Capabilities
from pinndd.methods.distill.checkpoint import Checkpointed
from pinndd.methods.sampling.qmc import KINDS, sample_unit

METHODS = methods.names()
#: Settings that keep every method to seconds in tests (tiny teachers and warm-ups), by what
#: the method does (its capabilities), most specific first.
CHEAP = [
    (dict(learns_labels=True), dict(outer_steps=2, width=4, depth=1, dense=32, dense_batch=16, teacher_dense=64,
                                    teacher_protocol="smoke", progress=False)),
    (dict(needs_teacher=True), dict(teacher_dense=64, teacher_protocol="smoke")),
    (dict(checkpoints=True), dict(outer_steps=2, width=4, depth=1, dense=32, n_experts=1, expert_steps=4, expert_every=2,
                                  progress=False)),
    (dict(needs_warmup=True, shift_aware=True), dict(protocol="smoke", warm_dense=64, pool_size=256, progress=False)),
]


def cheap(name):
    caps = methods.get(name).capabilities
    settings = next((s for need, s in CHEAP if all(getattr(caps, k) == v for k, v in need.items())), {})
    return methods.get(name, **settings)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_on_every_pde(method, pde_name):
    problem = equations.get(pde_name)
    ps = cheap(method).make(problem, 24, seed=0)
    counts = BudgetRule().split(problem, 24)
    assert ps.n_interior == 24
    assert {k: len(p) for k, (p, _) in ps.conditions.items()} == {k: v for k, v in counts.items() if k != "interior"}
    ps.validate(problem)  # inside the domain, on the right faces
    assert ps.metadata["method"] == method
    m = methods.get(method)
    check_cost_record(ps, m.capabilities, getattr(m, "uses_experts", lambda: False)())
    # the declared capabilities are what the method does
    assert m.capabilities.labelled == (ps.targets is not None)
    assert m.capabilities.checkpoints == isinstance(m, Checkpointed)
    assert m.capabilities.shift_aware == ("made_on" in ps.metadata)


def check_cost_record(ps, caps: Capabilities, experts: bool = False) -> None:
    """The set's typed cost record: present, parts add up, charged where the method spends."""
    cost = Cost.of(ps.metadata)  # refuses a record whose total is not the sum of its parts
    assert "cost" in ps.metadata and cost.training == 0.0
    assert cost.total == pytest.approx(sum(ps.metadata["cost"][p] for p in PARTS), rel=1e-12)
    # at least the make() call's wall time: cached work is charged in full, nothing is dropped
    assert cost.total >= ps.metadata["cost_seconds"] * (1 - 1e-12)
    if caps.needs_teacher or experts:  # a teacher: labels, or expert runs a distiller learns from
        assert cost.teacher > 0
    else:
        assert cost.teacher == 0
    assert (cost.warmup > 0) == caps.needs_warmup


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n, dim", [(1, 1), (17, 2), (64, 2), (50, 3)])
def test_sampler_counts_range_and_seeding(kind, n, dim):
    a = sample_unit(kind, n, dim, seed=4)
    assert a.shape == (n, dim)
    assert np.all((a >= 0) & (a <= 1))
    np.testing.assert_array_equal(a, sample_unit(kind, n, dim, seed=4))
    if n > 1:
        assert not np.array_equal(a, sample_unit(kind, n, dim, seed=5))


def test_sobol_discrepancy_below_uniform():
    sob = np.mean([qmc.discrepancy(sample_unit("sobol", 256, 2, s)) for s in range(5)])
    uni = np.mean([qmc.discrepancy(sample_unit("uniform", 256, 2, s)) for s in range(5)])
    assert sob < uni / 5


def test_grid_is_a_grid_when_square():
    a = sample_unit("grid", 16, 2, seed=0)
    assert len(np.unique(np.round(a[:, 0], 12))) == 4 and len(np.unique(np.round(a[:, 1], 12))) == 4


def test_budget_rule():
    problem = equations.get("burgers")
    split = BudgetRule(condition_fraction=0.25, min_per_condition=16).split(problem, 4096)
    assert split["interior"] == 4096 and all(split[c] == round(1024 / 3) for c in problem.condition_names)
    assert BudgetRule().split(problem, 8)[problem.condition_names[0]] == 16
    with pytest.raises(PinnddError):
        BudgetRule().split(problem, 0)


def test_unknown_method_and_bad_settings():
    with pytest.raises(PinnddError, match="unknown method"):
        methods.get("nope")
    with pytest.raises(PinnddError, match="bad settings"):
        methods.get("sobol", nonsense=1)


def test_methods_are_selected_by_capability():
    """Capabilities are types: unknown ones are refused, and a combination keeps both sides."""
    assert set(methods.names(needs_teacher=True, learns_labels=False)) == {"teacher_labels", "teacher_density"}
    assert "task_exchange" in methods.names(shift_aware=True, learns_labels=True)
    assert not set(methods.names(needs_warmup=True)) & set(methods.names(needs_teacher=True))
    with pytest.raises(PinnddError, match="unknown capabilities"):
        methods.names(teacher=True)
    both = Capabilities(needs_teacher=True) | Capabilities(checkpoints=True)
    assert both == Capabilities(needs_teacher=True, checkpoints=True)


def test_labelled_base_or_init_is_refused_by_capability():
    """A set labelled by a label distiller is refused where an unlabelled base is needed, as a
    teacher-labelled one always was."""
    heat = equations.get("heat")
    for base in ("teacher_labels", "kip_labels"):
        with pytest.raises(PinnddError, match="unlabelled base"):
            methods.get("teacher_labels", base=base, teacher_dense=64, teacher_protocol="smoke").make(heat, 8)
