"""Properties of every model of the sparse CCA family."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _cca_data import planted
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import imaging_genetics
from imaging_genetics.cca import (
    JCBSCCA,
    MTGSCCA,
    MTS2CCA,
    MTSCCA,
    SCCA,
    TCCA,
    row_norms,
    select_features,
)
from imaging_genetics.cca._core import REWEIGHT_EPS
from imaging_genetics.networks import correlation_graph, laplacian

ALL = [MTS2CCA, MTSCCA, MTGSCCA, SCCA, JCBSCCA, TCCA]


def _standardised(model, X, Ys):
    Xs = (X - model.x_mean_) * model.x_scale_
    Yss = [(Y - m) * s for Y, m, s in zip(Ys, model.y_means_, model.y_scales_)]
    return Xs, Yss


def _corr(a, b):
    return np.corrcoef(a, b)[0, 1]


# --------------------------------------------------------------------------- basics


@pytest.mark.parametrize("cls", ALL)
def test_fit_shapes_and_training_correlations(cls, small_data):
    X, Ys = small_data
    m = cls().fit(X, Ys)
    K = len(Ys)
    shared = cls in (JCBSCCA, TCCA)
    assert m.x_weights_.shape == (X.shape[1], 1 if shared else K)
    assert [v.shape for v in m.y_weights_] == [(Y.shape[1],) for Y in Ys]
    assert m.canonical_correlations_.shape == (K,)
    assert m.objective_.ndim == 1 and m.objective_.size == m.n_iter_
    assert np.isfinite(m.x_weights_).all()
    xs, ys = m.transform(X, Ys)
    assert xs.shape == (X.shape[0], K)
    for k in range(K):
        # Reported training correlations are those of the returned weights.
        assert _corr(xs[:, k], ys[k]) == pytest.approx(m.canonical_correlations_[k], abs=1e-10)
        # Each canonical variate has unit training variance (or a common scale).
        assert np.var(ys[k]) > 0
    # The planted strong task is found.
    assert m.canonical_correlations_[0] > 0.6
    assert m.score(X, Ys) == pytest.approx(np.mean(m.canonical_correlations_), abs=1e-10)


@pytest.mark.parametrize("cls", ALL)
def test_reweighted_surrogate_never_increases(cls, small_data):
    """Each block update does not increase its reweighted surrogate (spec §2.1)."""
    X, Ys = small_data
    m = cls().fit(X, Ys)
    S = m.surrogate_trace_
    assert S.shape == (m.n_iter_ if cls is not SCCA else S.shape[0], 4)
    scale = np.maximum(np.abs(S[:, [0, 2]]), 1.0)
    assert np.all(S[:, 1] <= S[:, 0] + 1e-10 * scale[:, 0])
    assert np.all(S[:, 3] <= S[:, 2] + 1e-10 * scale[:, 1])
    # And it strictly decreases somewhere (the updates do something).
    assert np.any(S[:, 1] < S[:, 0] - 1e-8)


@pytest.mark.parametrize("cls", ALL)
def test_deterministic_and_sign_convention(cls, small_data):
    X, Ys = small_data
    a = cls().fit(X, Ys)
    b = cls().fit(X, Ys)
    np.testing.assert_array_equal(a.x_weights_, b.x_weights_)
    for j in range(a.x_weights_.shape[1]):
        col = a.x_weights_[:, j]
        assert col[np.argmax(np.abs(col))] > 0


@pytest.mark.parametrize("cls", [MTS2CCA, SCCA, JCBSCCA])
def test_feature_permutation_and_column_scaling_invariance(cls, small_data):
    X, Ys = small_data
    rng = np.random.default_rng(0)
    perm = rng.permutation(X.shape[1])
    scale = rng.uniform(0.5, 3.0, X.shape[1])
    base = cls(tol=1e-7).fit(X, Ys)
    other = cls(tol=1e-7).fit(X[:, perm] * scale + 5.0, Ys)
    np.testing.assert_allclose(other.x_weights_, base.x_weights_[perm], atol=1e-5)
    np.testing.assert_allclose(other.canonical_correlations_, base.canonical_correlations_,
                               atol=1e-7)


@pytest.mark.parametrize("factor", [1e160, 1e-200])
def test_extreme_units_give_the_same_fit(factor, small_data):
    """Standardisation is scale-free: squares of 1e160 would overflow, of 1e-200 underflow.

    The standardised data differ in the last bits, and the loop's extrapolation
    steps can carry such differences up to the tolerance, so converged fits are
    compared at a tolerance a little above ``tol``.
    """
    X, Ys = small_data
    base = MTS2CCA(tol=1e-9).fit(X, Ys)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow on the way
        other = MTS2CCA(tol=1e-9).fit(X * factor, [Y * factor for Y in Ys])
    assert max(base.n_iter_, other.n_iter_) < base.max_iter  # both converged
    np.testing.assert_allclose(other.x_weights_, base.x_weights_, atol=1e-7)
    np.testing.assert_allclose(other.canonical_correlations_, base.canonical_correlations_, atol=1e-8)


# ------------------------------------------------------------------ limiting cases


def _classical_cca(X, Y):
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    n = X.shape[0]
    Cxx, Cyy, Cxy = Xc.T @ Xc / n, Yc.T @ Yc / n, Xc.T @ Yc / n
    M = np.linalg.solve(Cxx, Cxy) @ np.linalg.solve(Cyy, Cxy.T)
    w, V = np.linalg.eig(M)
    i = np.argmax(w.real)
    u = V[:, i].real
    v = np.linalg.solve(Cyy, Cxy.T @ u)
    return np.sqrt(w[i].real), u, v


def test_zero_penalty_scca_is_classical_cca():
    X, Ys = planted(n=400, p=8, qs=(6, 5), rhos=(0.9, 0.6), seed=5)
    m = SCCA(sparsity_x=0.0, sparsity_y=0.0).fit(X, Ys)
    for k, Y in enumerate(Ys):
        rho, u, v = _classical_cca(X, Y)
        assert m.canonical_correlations_[k] == pytest.approx(rho, abs=1e-6)
        xs, ys = m.transform(X, Ys)
        assert abs(_corr(xs[:, k], X @ u)) == pytest.approx(1.0, abs=1e-6)
        assert abs(_corr(ys[k], Y @ v)) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("rx,ry", [(0.0, 0.0), (0.3, 0.8)])
def test_tcca_with_one_modality_is_regularised_two_view_cca(rx, ry):
    X, Ys = planted(n=200, p=10, qs=(7,), rhos=(0.7,), seed=2)
    Y = Ys[0]
    m = TCCA(sparsity_x=rx, sparsity_y=ry, tol=1e-10).fit(X, [Y])
    Xs, (Ys_,) = _standardised(m, X, [Y])
    n = X.shape[0]
    Cxx = Xs.T @ Xs / n + rx * np.eye(X.shape[1])
    Cyy = Ys_.T @ Ys_ / n + ry * np.eye(Y.shape[1])
    Cxy = Xs.T @ Ys_ / n
    w, V = np.linalg.eig(np.linalg.solve(Cxx, Cxy) @ np.linalg.solve(Cyy, Cxy.T))
    u = V[:, np.argmax(w.real)].real
    v = np.linalg.solve(Cyy, Cxy.T @ u)
    cos_u = abs(u @ m.x_weights_[:, 0]) / np.linalg.norm(u) / np.linalg.norm(m.x_weights_)
    cos_v = abs(v @ m.y_weights_[0]) / np.linalg.norm(v) / np.linalg.norm(m.y_weights_[0])
    assert cos_u == pytest.approx(1.0, abs=1e-8)
    assert cos_v == pytest.approx(1.0, abs=1e-8)
    assert m.modality_loadings_ == pytest.approx([1.0])


# ----------------------------------------------------------- stationarity (KKT)


def _parallel_residual(Au, b):
    s = (b @ Au) / (b @ b)
    return np.linalg.norm(Au - s * b) / np.linalg.norm(Au)


def _d_rows(W, beta):
    return beta / (2 * np.sqrt((W * W).sum(axis=1) + REWEIGHT_EPS))


def test_mts2cca_subproblems_are_stationary_at_convergence(small_data):
    """At the fixed point, (C_xx + l1 L + b1 D(U)) u_k is parallel to C_xy v_k, and
    likewise for v_k (the scaled reweighted systems of spec §2.2)."""
    X, Ys = small_data
    b1, b2, l1, l2 = 0.1, 0.08, 0.2, 0.3
    m = MTS2CCA(b1, b2, l1, l2, tol=1e-9, max_iter=5000).fit(X, Ys)
    Xs, Yss = _standardised(m, X, Ys)
    n = X.shape[0]
    U, V = m.x_weights_, np.column_stack(m.y_weights_)
    Lx = laplacian(correlation_graph(Xs)).toarray()
    A = Xs.T @ Xs / n + l1 * Lx + np.diag(_d_rows(U, b1))
    dV = _d_rows(V, b2)
    for k, Y in enumerate(Yss):
        assert _parallel_residual(A @ U[:, k], Xs.T @ Y @ V[:, k] / n) < 1e-5
        Ly = laplacian(correlation_graph(Y)).toarray()
        B = Y.T @ Y / n + l2 * Ly + np.diag(dV)
        assert _parallel_residual(B @ V[:, k], Y.T @ Xs @ U[:, k] / n) < 1e-5


def test_mtgscca_and_scca_stationarity(small_data):
    X, Ys = small_data
    groups = np.arange(X.shape[1]) // 4
    m = MTGSCCA(0.05, 0.05, 0.1, tol=1e-9, max_iter=5000).fit(X, Ys, snp_groups=groups)
    Xs, Yss = _standardised(m, X, Ys)
    n = X.shape[0]
    U = m.x_weights_
    gsq = np.bincount(groups, weights=(U * U).sum(axis=1))
    dG = 0.1 / (2 * np.sqrt(gsq + REWEIGHT_EPS))
    A = Xs.T @ Xs / n + np.diag(_d_rows(U, 0.05) + dG[groups])
    for k, Y in enumerate(Yss):
        assert _parallel_residual(A @ U[:, k], Xs.T @ Y @ m.y_weights_[k] / n) < 1e-5

    s = SCCA(0.05, 0.1, tol=1e-9, max_iter=5000).fit(X, Ys)
    for k, Y in enumerate(Yss):
        u, v = s.x_weights_[:, k], s.y_weights_[k]
        A = Xs.T @ Xs / n + np.diag(_d_rows(u[:, None], 0.05))
        assert _parallel_residual(A @ u, Xs.T @ Y @ v / n) < 1e-5
        B = Y.T @ Y / n + np.diag(_d_rows(v[:, None], 0.1))
        assert _parallel_residual(B @ v, Y.T @ Xs @ u / n) < 1e-5


def test_jcbscca_stationarity_with_fusion(small_data):
    """Shared u: (K C_xx + l1 L + b1 D) u || sum_k C_xk v_k; the stacked v system
    with the fusion coupling is satisfied up to one common scale."""
    X, Ys = small_data
    b1, b2, l1, l2, tau = 0.05, 0.05, 0.1, 0.1, 0.05
    m = JCBSCCA(b1, b2, l1, l2, tau, tol=1e-9, max_iter=5000).fit(X, Ys)
    Xs, Yss = _standardised(m, X, Ys)
    n, K = X.shape[0], len(Ys)
    u = m.x_weights_[:, 0]
    Lx = laplacian(correlation_graph(Xs)).toarray()
    A = K * Xs.T @ Xs / n + l1 * Lx + np.diag(_d_rows(u[:, None], b1))
    b = sum(Xs.T @ Y @ v / n for Y, v in zip(Yss, m.y_weights_))
    assert _parallel_residual(A @ u, b) < 1e-5
    q = Yss[0].shape[1]
    big = np.zeros((K * q, K * q))
    for k, Y in enumerate(Yss):
        sl = slice(k * q, (k + 1) * q)
        big[sl, sl] = (Y.T @ Y / n + l2 * laplacian(correlation_graph(Y)).toarray()
                       + np.diag(_d_rows(m.y_weights_[k][:, None], b2)))
    for k in range(K):
        for j in range(k + 1, K):
            diff = m.y_weights_[k] - m.y_weights_[j]
            c = tau / (2 * np.sqrt(diff ** 2 + REWEIGHT_EPS))
            for i in range(q):
                a, bb = k * q + i, j * q + i
                big[a, a] += c[i]
                big[bb, bb] += c[i]
                big[a, bb] -= c[i]
                big[bb, a] -= c[i]
    vv = np.concatenate(m.y_weights_)
    rhs = np.concatenate([Y.T @ Xs @ u / n for Y in Yss])
    assert _parallel_residual(big @ vv, rhs) < 1e-5


# --------------------------------------------------------------------- solvers


def test_cg_and_dense_give_the_same_weights():
    X, Ys = planted(n=100, p=200, qs=(30, 30), rhos=(0.9, 0.7), seed=7)
    adj = sp.diags([np.ones(199), np.ones(199)], [-1, 1], format="csr")
    kw = dict(tol=1e-9, max_iter=5000)
    fits = {}
    for solver in ("dense", "cg", "woodbury"):
        fits[solver] = MTS2CCA(0.1, 0.1, 0.1, 0.1, solver=solver, **kw).fit(
            X, Ys, x_adjacency=adj)
    d = fits["dense"]
    for c in (fits["cg"], fits["woodbury"]):
        np.testing.assert_allclose(c.x_weights_, d.x_weights_, atol=1e-6 * np.abs(d.x_weights_).max())
        for a, b in zip(c.y_weights_, d.y_weights_):
            np.testing.assert_allclose(a, b, atol=1e-6 * np.abs(b).max())


@pytest.mark.parametrize("cls", [MTS2CCA, SCCA])
def test_copy_false_standardises_in_place_with_the_same_fit(cls, small_data):
    X, Ys = small_data
    ref = cls(solver="cg").fit(X, Ys)
    Xw = X.copy()
    m = cls(solver="cg", copy=False).fit(Xw, Ys)
    np.testing.assert_array_equal(m.x_weights_, ref.x_weights_)
    # the caller's array now holds the standardised data
    np.testing.assert_allclose(Xw, (X - X.mean(axis=0)) / X.std(axis=0), atol=1e-12)
    # a read-only array is never written: the fit copies instead
    Xr = X.copy()
    Xr.flags.writeable = False
    np.testing.assert_array_equal(cls(copy=False, solver="cg").fit(Xr, Ys).x_weights_, ref.x_weights_)
    np.testing.assert_array_equal(Xr, X)
    with pytest.raises(TypeError, match="copy"):
        cls(copy="no").fit(X, Ys)


# -------------------------------------------------------------------- deflation


def test_second_component_is_uncorrelated_with_the_first(small_data):
    X, Ys = small_data
    m = MTSCCA(n_components=2).fit(X, Ys)
    K = len(Ys)
    assert m.x_weights_.shape == (X.shape[1], K, 2)
    assert m.canonical_correlations_.shape == (K, 2)
    xs, ys = m.transform(X, Ys)
    assert xs.shape == (X.shape[0], K, 2)
    for k in range(K):
        # Deflation removes the first variates: the second ones are orthogonal
        # to all first X variates and to the task's first Y variate.
        for j in range(K):
            assert abs(_corr(xs[:, k, 1], xs[:, j, 0])) < 1e-8
        assert abs(_corr(ys[k][:, 1], ys[k][:, 0])) < 1e-8
        assert _corr(xs[:, k, 1], ys[k][:, 1]) == pytest.approx(m.canonical_correlations_[k, 1],
                                                                  abs=1e-8)
    # First component unchanged by asking for more.
    one = MTSCCA().fit(X, Ys)
    np.testing.assert_allclose(m.x_weights_[:, :, 0], one.x_weights_, atol=1e-12)


# ---------------------------------------------------------------- convergence


def test_convergence_warning_at_max_iter(small_data):
    X, Ys = small_data
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        m = MTS2CCA(max_iter=2).fit(X, Ys)
    assert m.n_iter_ == 2


def test_converged_fit_emits_no_warning(small_data):
    X, Ys = small_data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = MTS2CCA().fit(X, Ys)
    assert m.n_iter_ < m.max_iter


# ---------------------------------------------------------- sklearn conventions


@pytest.mark.parametrize("cls", ALL)
def test_clone_get_params_round_trip(cls):
    m = cls(n_components=2, tol=1e-4, random_state=3)
    params = m.get_params()
    c = clone(m)
    assert c.get_params() == params
    assert type(c)(**params).get_params() == params
    m.set_params(max_iter=7)
    assert m.max_iter == 7


@pytest.mark.parametrize("cls", ALL)
def test_save_load_round_trip(cls, small_data, tmp_path):
    X, Ys = small_data
    m = cls().fit(X, Ys)
    path = m.save(tmp_path / "model.npz")
    back = imaging_genetics.load(path)
    assert type(back) is cls and back.get_params() == m.get_params()
    np.testing.assert_array_equal(back.x_weights_, m.x_weights_)
    a, b = m.transform(X, Ys), back.transform(X, Ys)
    np.testing.assert_array_equal(a[0], b[0])
    assert back.score(X, Ys) == m.score(X, Ys)


def test_random_init_is_reproducible(small_data):
    X, Ys = small_data
    a = MTSCCA(init="random", random_state=4).fit(X, Ys)
    b = MTSCCA(init="random", random_state=4).fit(X, Ys)
    np.testing.assert_array_equal(a.x_weights_, b.x_weights_)
    # Same fixed point as the deterministic start on this well-posed problem.
    c = MTSCCA().fit(X, Ys)
    assert np.abs(a.canonical_correlations_ - c.canonical_correlations_).max() < 1e-3


# ------------------------------------------------------------------- selection


def test_selection_helper_ranks_by_row_norms():
    W = np.array([[3.0, 4.0], [0.0, 0.1], [1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(row_norms(W), [5.0, 0.1, 1.0, 0.0])
    np.testing.assert_array_equal(select_features(W, 0.1), [0, 2])
    np.testing.assert_array_equal(select_features(W, 0.05, relative=False), [0, 2, 1])
    np.testing.assert_array_equal(select_features(W, n_features=1), [0])
    np.testing.assert_allclose(row_norms([np.array([3.0, 0.0]), np.array([4.0, 1.0])]), [5.0, 1.0])


def test_sparse_model_ranks_planted_features_first(small_data):
    X, Ys = small_data
    m = SCCA(0.3, 0.3).fit(X, Ys)
    sel_x = select_features(m.x_weights_[:, 0], 0.1)
    sel_y = select_features(m.y_weights_[0], 0.1)
    assert {0, 1, 2, 3} <= set(sel_x) and len(sel_x) <= 8
    assert {0, 1, 2} <= set(sel_y) and len(sel_y) <= 5
    assert set(sel_x[:2]) <= {0, 1, 2, 3}


def test_tcca_accepts_its_earlier_parameter_names_with_a_warning():
    X, Ys = planted(n=80, p=6, qs=(5, 5), rhos=(0.7, 0.5), seed=3)
    ref = TCCA(sparsity_x=0.3, sparsity_y=0.7, max_iter=50).fit(X, Ys)
    old = TCCA(ridge_x=0.3, ridge_y=0.7, max_iter=50)
    with pytest.warns(FutureWarning, match="ridge_x is now called sparsity_x"):
        old.fit(X, Ys)
    np.testing.assert_array_equal(old.x_weights_, ref.x_weights_)
    with pytest.raises(ValueError, match="give sparsity_x only"):
        TCCA(sparsity_x=0.5, ridge_x=0.3).fit(X, Ys)
    with pytest.raises(ValueError, match="ridge_y"):
        TCCA(ridge_y=-1.0).fit(X, Ys)


def test_components_beyond_the_data_are_reported(small_data):
    X, Ys = small_data  # p = 30 SNPs: SCCA's deflation removes K = 3 directions of X per component
    first = X.shape[1] // len(Ys) + 1
    with pytest.warns(UserWarning, match=rf"component\(s\) \[{first}, .*\] of {first + 2} are void"):
        SCCA(n_components=first + 2, max_iter=50).fit(X, Ys)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        SCCA(n_components=first - 1, max_iter=50).fit(X, Ys)
    assert not [w for w in seen if "are void" in str(w.message)]


def test_score_needs_two_rows_and_groups_need_labels(small_data):
    X, Ys = small_data
    model = SCCA(max_iter=50).fit(X, Ys)
    with pytest.raises(ValueError, match="a correlation needs at least 2 samples"):
        model.score(X[:1], [Y[:1] for Y in Ys])
    groups = np.arange(X.shape[1]).astype(float) // 3
    groups[4] = np.nan
    with pytest.raises(ValueError, match=r"snp_groups: 1 missing label\(s\) \(first at SNP 4\)"):
        MTGSCCA(max_iter=5).fit(X, Ys, snp_groups=groups)
    with pytest.raises(ValueError, match=r"snp_groups: 2 missing label"):
        MTGSCCA(max_iter=5).fit(X, Ys, snp_groups=np.array([None, None] + list(range(X.shape[1] - 2)), dtype=object))


def test_a_graph_the_model_has_no_term_for_is_reported(small_data):
    from imaging_genetics.cca import JCBSCCA, MTGSCCA, MTS2CCA, MTSCCA
    from imaging_genetics.inference.cv import prior_fit_params
    from imaging_genetics.networks import correlation_graph

    X, Ys = small_data
    A = correlation_graph(X)
    B = [correlation_graph(Y) for Y in Ys]
    groups = np.arange(X.shape[1]) // 5
    cases = [
        (MTSCCA(max_iter=20), dict(x_adjacency=A), ["x_adjacency"]),
        (SCCA(max_iter=20), dict(x_adjacency=A, y_adjacency=B), ["x_adjacency", "y_adjacency"]),
        (MTGSCCA(max_iter=20), dict(x_adjacency=A, snp_groups=groups), ["x_adjacency"]),
        (MTGSCCA(max_iter=20), dict(x_adjacency=A, y_adjacency=B), ["y_adjacency"]),
        (MTS2CCA(max_iter=20), dict(x_adjacency=A, y_adjacency=B), []),
        (JCBSCCA(max_iter=20), dict(x_adjacency=A, y_adjacency=B), []),
    ]
    for model, kw, unused in cases:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            model.fit(X, Ys, **kw)
        named = [str(w.message) for w in seen if "has no network term" in str(w.message)]
        if unused:
            assert len(named) == 1 and all(u in named[0] for u in unused), (model, named)
        else:
            assert not named, (model, named)
        # a prior callable shared by several models gives each only what it uses
        passed = prior_fit_params(model, X, Ys, lambda Xt, Yt: dict(kw))
        assert set(passed) == set(kw) - set(unused)
