import os

# check_array_api_input runs only when scipy sees this before it is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def lecture_data():
    """The lecture's data: y = x^(1/3) on 50 points in [0, 1]."""
    X = np.linspace(0, 1, 50).reshape(-1, 1)
    return X, X.ravel() ** (1 / 3)


@pytest.fixture(scope="session")
def small_regression():
    """Small two-output regression data with sample weights."""
    rng = np.random.RandomState(0)
    X = rng.uniform(-2, 2, size=(40, 3))
    Y = np.c_[np.sin(X[:, 0]) + 0.5 * X[:, 1], X[:, 2] ** 2 - X[:, 0]]
    Y = Y + 0.05 * rng.normal(size=Y.shape)
    w = rng.uniform(0.2, 2.0, size=40)
    return X, Y, w


@pytest.fixture
def pyplot():
    """matplotlib's pyplot on the Agg backend, closing every figure afterwards."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.fixture(scope="session")
def dask_client():
    """A loopback Dask cluster: two worker processes of two threads each."""
    distributed = pytest.importorskip(
        "distributed", reason="needs the 'distributed' extra"
    )
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=2,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
