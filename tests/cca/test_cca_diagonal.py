"""SCCA with diagonal covariances (``covariance="diagonal"``): exact block steps."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone

from imaging_genetics.cca import SCCA
from imaging_genetics.cca import _diagonal
from imaging_genetics.cca._diagonal import soft_threshold_unit


def _standardised(A):
    A = A - A.mean(axis=0)
    return A / A.std(axis=0)


def _unit(w):
    return w / np.linalg.norm(w)


def _sparse_planted(n=120, p=200, q=40, seed=0):
    """p > n, one latent variable behind the first 10 SNPs and the first 5 regions."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n)
    X = rng.standard_normal((n, p))
    Y = rng.standard_normal((n, q))
    X[:, :10] += 0.9 * z[:, None]
    Y[:, :5] += 0.9 * z[:, None]
    return X, Y


def test_fixed_point_is_exact_soft_thresholding():
    X, Y = _sparse_planted()
    b1, b2 = 0.3, 0.2
    m = SCCA(b1, b2, covariance="diagonal", tol=1e-10).fit(X, [Y])
    Xs, Ys = _standardised(X), _standardised(Y)
    C = Xs.T @ Ys / X.shape[0]
    u, v = _unit(m.x_weights_[:, 0]), _unit(m.y_weights_[0])
    # the optimality conditions of both blocks (Witten et al., Lemma 2.2)
    np.testing.assert_allclose(u, soft_threshold_unit(C @ v, b1 / 2), atol=1e-8)
    np.testing.assert_allclose(v, soft_threshold_unit(C.T @ u, b2 / 2), atol=1e-8)
    # exact zeros below the threshold, nonzeros above it
    assert np.array_equal(u != 0, np.abs(C @ v) > b1 / 2)
    # the reported weights are rescaled to unit variance of the training variates
    assert np.isclose(np.var(Xs @ m.x_weights_[:, 0]), 1.0)
    assert np.isclose(np.var(Ys @ m.y_weights_[0]), 1.0)


def test_no_penalty_gives_the_leading_singular_pair():
    X, Y = _sparse_planted(seed=1)
    m = SCCA(0.0, 0.0, covariance="diagonal", tol=1e-12, max_iter=5000).fit(X, [Y])
    C = _standardised(X).T @ _standardised(Y) / X.shape[0]
    U, s, Vt = np.linalg.svd(C)
    u, v = _unit(m.x_weights_[:, 0]), _unit(m.y_weights_[0])
    assert abs(u @ U[:, 0]) > 1 - 1e-8
    assert abs(v @ Vt[0]) > 1 - 1e-8
    assert np.isclose(u @ C @ v, s[0], rtol=1e-10)


def test_objective_never_increases_and_steps_are_monotone():
    X, Y = _sparse_planted(seed=2)
    m = SCCA(0.2, 0.2, covariance="diagonal", tol=1e-9, init="random", random_state=3).fit(X, [Y])
    obj = m.objective_
    assert obj.size == m.n_iter_ >= 2
    assert np.all(np.diff(obj) <= 1e-12 * np.abs(obj[:-1]))
    s = m.surrogate_trace_
    assert np.all(s[:, 1] <= s[:, 0] + 1e-12) and np.all(s[:, 3] <= s[:, 2] + 1e-12)


def test_planted_support_is_recovered_with_p_above_n():
    X, Y = _sparse_planted(n=100, p=400, q=60, seed=4)
    m = SCCA(1.0, 1.0, covariance="diagonal").fit(X, [Y])
    u, v = m.x_weights_[:, 0], m.y_weights_[0]
    assert set(np.flatnonzero(u)) >= set(range(10)) and np.count_nonzero(u) <= 15
    assert set(np.flatnonzero(v)) >= set(range(5)) and np.count_nonzero(v) <= 10


def test_matrix_free_products_agree_with_the_cross_covariance(monkeypatch):
    X, Y = _sparse_planted(seed=5)
    ref = SCCA(0.2, 0.3, covariance="diagonal", tol=1e-10).fit(X, [Y])
    monkeypatch.setattr(_diagonal, "_CROSS_MAX_BYTES", 0)  # never form the p x q matrix
    alt = SCCA(0.2, 0.3, covariance="diagonal", tol=1e-10).fit(X, [Y])
    np.testing.assert_allclose(alt.x_weights_, ref.x_weights_, atol=1e-9)
    np.testing.assert_allclose(alt.y_weights_[0], ref.y_weights_[0], atol=1e-9)


def test_generalises_better_than_full_covariances_when_p_exceeds_n():
    gains = []
    for seed in (6, 7, 8):  # 80 training samples, p + q = 340
        X, Y = _sparse_planted(n=200, p=300, q=40, seed=seed)
        tr, te = slice(0, 80), slice(80, None)
        diag = SCCA(0.6, 0.6, covariance="diagonal").fit(X[tr], [Y[tr]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            full = SCCA(0.3, 0.3, max_iter=200).fit(X[tr], [Y[tr]])
        gains.append(diag.score(X[te], [Y[te]]) - full.score(X[te], [Y[te]]))
    assert np.mean(gains) > 0.02


def test_several_modalities_components_and_clone(small_data):
    X, Ys = small_data
    m = SCCA(0.1, 0.1, covariance="diagonal", n_components=2).fit(X, Ys)
    assert m.x_weights_.shape == (X.shape[1], len(Ys), 2)
    assert np.all(np.abs(m.canonical_correlations_[:, 0]) > 0.4)
    again = clone(m).fit(X, Ys)
    np.testing.assert_array_equal(again.x_weights_, m.x_weights_)
    assert again.get_params()["covariance"] == "diagonal"


def test_penalties_above_every_correlation_give_a_named_warning():
    X, Y = _sparse_planted(seed=7)
    with pytest.warns(UserWarning, match=r"component\(s\) \[1\] of 1 are void.*sparsity_x=3"):
        m = SCCA(3.0, 3.0, covariance="diagonal").fit(X, [Y])
    assert not m.x_weights_.any() and not m.y_weights_[0].any()


@pytest.mark.parametrize("bad", ["Diagonal", "identity", None, 1])
def test_bad_covariance_is_named(bad):
    X, Y = _sparse_planted(n=30, p=10, q=5)
    with pytest.raises(ValueError, match="covariance must be 'full' or 'diagonal'"):
        SCCA(covariance=bad).fit(X, [Y])


def test_agrees_with_cca_zoo_pmd_at_the_matching_l1_bound():
    """Penalty form (ours) and bound form (Witten et al.'s PMD, as cca-zoo implements
    it) have the same solutions: at the l1 norms our fit reaches, PMD finds the same
    unit weight vectors and supports."""
    cz = pytest.importorskip("cca_zoo.sparse")
    X, Y = _sparse_planted(n=150, p=120, q=30, seed=8)
    m = SCCA(0.3, 0.3, covariance="diagonal", tol=1e-12, max_iter=10000).fit(X, [Y])
    u, v = _unit(m.x_weights_[:, 0]), _unit(m.y_weights_[0])
    bounds = [np.abs(u).sum() / np.sqrt(u.size), np.abs(v).sum() / np.sqrt(v.size)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pmd = cz.PMDCCA(l1_bound=bounds, tol=1e-12, max_iter=5000, random_state=0).fit(
            [_standardised(X), _standardised(Y)])
    weights = pmd.weights_ if hasattr(pmd, "weights_") else pmd.weights
    wu, wv = _unit(weights[0][:, 0]), _unit(weights[1][:, 0])
    assert abs(wu @ u) > 1 - 1e-8 and abs(wv @ v) > 1 - 1e-8
    assert np.array_equal(wu != 0, u != 0) and np.array_equal(wv != 0, v != 0)
