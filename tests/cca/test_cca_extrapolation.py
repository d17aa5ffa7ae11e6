"""Extrapolation steps of the alternating loop (``_base.EXTRAPOLATE_EVERY``)."""

import warnings

import numpy as np
import pytest
from _cca_data import planted

from imaging_genetics.cca import JCBSCCA, MTS2CCA, TCCA, _base
from imaging_genetics.cca._base import EXTRAPOLATE_MAX_RATIO, _extrapolated


def test_aitken_limit_of_geometric_sequences():
    rng = np.random.default_rng(0)
    limit = rng.standard_normal(50)
    amp = rng.standard_normal(50)
    ratio = rng.uniform(0.01, 0.995, 50)
    a, b, c = (limit + amp * ratio**t for t in (3, 4, 5))
    np.testing.assert_allclose(_extrapolated(a, b, c), limit, rtol=0, atol=1e-9)
    # oscillating moves, moves too close to a ratio of 1 and stalled entries stay put
    bad = np.array([-0.5, 0.9995, 1.0, 2.0])
    a, b, c = (1.0 + bad**t for t in (1, 2, 3))
    c[2] = b[2] = a[2]
    np.testing.assert_array_equal(_extrapolated(a, b, c), c)
    assert EXTRAPOLATE_MAX_RATIO < 0.9995


def _fits(cls, monkeypatch, **kw):
    X, Ys = planted()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monkeypatch.setattr(_base, "EXTRAPOLATE_EVERY", 10**9)  # never: the plain loop
        limit = cls(tol=1e-12, max_iter=50_000, **kw).fit(X, Ys)
        plain = cls(**kw).fit(X, Ys)
        monkeypatch.undo()
        fast = cls(**kw).fit(X, Ys)
    return limit, plain, fast


@pytest.mark.parametrize("cls", [MTS2CCA, JCBSCCA])
def test_extrapolation_reaches_the_same_fixed_point_sooner(cls, monkeypatch):
    limit, plain, fast = _fits(cls, monkeypatch)
    assert fast.n_iter_ < 0.8 * plain.n_iter_

    def err(m):
        return np.linalg.norm(m.x_weights_ - limit.x_weights_) / np.linalg.norm(limit.x_weights_)

    # the same limit, and not farther from it than the plain loop stopping at the same tol
    assert err(fast) < 1e-3 and err(fast) <= 1.5 * err(plain)
    assert abs(fast.objective_[-1] - limit.objective_[-1]) <= 1e-4 * abs(limit.objective_[-1])
    assert fast.objective_.size == fast.n_iter_


def test_tcca_is_never_extrapolated(monkeypatch):
    # its imaging weights are one region pattern times modality loadings: moving them
    # entry by entry would leave that form
    _, plain, fast = _fits(TCCA, monkeypatch)
    np.testing.assert_array_equal(fast.x_weights_, plain.x_weights_)
    assert fast.n_iter_ == plain.n_iter_
