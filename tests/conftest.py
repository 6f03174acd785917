import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

import equations  # noqa: E402

PDE_NAMES = equations.names()


@pytest.fixture(params=PDE_NAMES)
def pde_name(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def heat():
    """The heat problem (tiny, analytic): the distillers' and labelled methods' test bed."""
    return equations.get("heat")
