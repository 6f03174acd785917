"""Property tests (hypothesis) of the geometry, samplers and point-set files."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pinndd import Box, PointSet
from pinndd.methods.sampling.qmc import KINDS, sample_unit

names = st.lists(st.sampled_from("xyztsw"), min_size=1, max_size=4, unique=True)


@st.composite
def boxes(draw):
    n = draw(names)
    lo = draw(st.lists(st.floats(-10, 10), min_size=len(n), max_size=len(n)))
    ext = draw(st.lists(st.floats(0.01, 10), min_size=len(n), max_size=len(n)))
    return Box(tuple(n), tuple(lo), tuple(a + e for a, e in zip(lo, ext)))


@settings(max_examples=40, deadline=None)
@given(box=boxes(), kind=st.sampled_from(KINDS), n=st.integers(1, 70), seed=st.integers(0, 2**31))
def test_sampled_points_lie_in_the_box_and_on_faces(box, kind, n, seed):
    pts = box.from_unit(sample_unit(kind, n, box.dim, seed))
    assert pts.shape == (n, box.dim) and box.contains(pts).all()
    for name in box.names:
        for side in ("lower", "upper"):
            face = box.face(name, side)
            fp = face.from_unit(sample_unit(kind, n, box.dim - 1, seed))
            assert face.contains(fp).all() and box.contains(fp).all()


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 30), d=st.integers(1, 4), m=st.integers(1, 10), seed=st.integers(0, 1000),
       labelled=st.booleans())
def test_pointset_file_roundtrip(tmp_path_factory, n, d, m, seed, labelled):
    rng = np.random.default_rng(seed)
    ps = PointSet(rng.random((n, d)), rng.random(n) + 0.1, {"c": (rng.random((m, d)), None)},
                  rng.normal(size=n) if labelled else None, 3.0, {"seed": seed})
    back = PointSet.load(ps.save(tmp_path_factory.mktemp("ps") / "p.npz"))
    np.testing.assert_array_equal(back.interior, ps.interior)
    np.testing.assert_array_equal(back.conditions["c"][0], ps.conditions["c"][0])
    assert (back.targets is None) == (not labelled)
    assert back.metadata == ps.metadata
