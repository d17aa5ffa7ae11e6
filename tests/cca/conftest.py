"""Shared fixtures of the CCA tests: small planted problems, one BLAS thread."""

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # The tests are timed on one core; threaded BLAS on tiny matrices only adds
    # contention.
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def small_data():
    from _cca_data import planted

    return planted()
