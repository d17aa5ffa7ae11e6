"""The update core: monotone objective, nonnegativity, correct Laplacian split."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.decomposition import NMF

from imaging_genetics.nmf import JCBSNMF, JNMF, JSNMNMF
from imaging_genetics.nmf import _core
from imaging_genetics.nmf._core import JointProblem, objective, objective_terms, run_batch, update_H, update_W

from nmf_testdata import make_problem


def _fit_traced(model, Xs, **kw):
    model._check_every = 1  # evaluate F after every sweep
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(Xs, **kw)


@pytest.mark.parametrize("dense", [False, True])
@pytest.mark.parametrize("beta", [0.01, 1.0, 1000.0])
@pytest.mark.parametrize("cls", [JNMF, JSNMNMF, JCBSNMF])
def test_objective_never_increases_and_stays_nonnegative(cls, beta, dense):
    Xs, cross, graphs = make_problem(seed=int(beta) + dense, dense=dense)
    params = dict(n_components=4, n_restarts=2, max_iter=60, tol=0, random_state=1)
    kw = {}
    if cls is not JNMF:
        params.update(cross_strength=0.5, basis_penalty=0.3, sparsity=1.0)
        kw["cross_adjacency"] = cross
    if cls is JCBSNMF:
        params["smoothness"] = beta
        kw["graphs"] = graphs
    m = _fit_traced(cls(**params), Xs, **kw)
    trace = m.objective_
    assert trace.size == 61
    steps = np.diff(trace)
    assert np.all(steps <= 1e-12 * np.abs(trace[:-1])), steps.max()
    assert trace[-1] < 0.5 * trace[0]  # it actually descends
    assert (m.basis_ >= 0).all() and all((H >= 0).all() for H in m.coefficients_)
    assert np.isfinite(m.basis_).all()
    if cls is JCBSNMF:
        assert m.objective_terms_["smoothness"] > 0
        assert m.objective_terms_["cross"] < 0


def test_large_beta_dense_graph_every_block_step_is_monotone():
    # check after every single block update, not only after whole sweeps
    Xs, cross, graphs = make_problem(seed=5, dense=True)
    prob = JointProblem(
        Xs,
        cross=[(I, J, 2.0, A) for (I, J), A in cross.items()],
        graphs=[(500.0, S) for S in graphs],
        gamma1=0.1,
        gamma2=3.0,
    )
    rng = np.random.RandomState(0)
    W = rng.rand(3, 30, 4)
    Hs = [rng.rand(3, 4, X.shape[1]) for X in Xs]
    F = objective(prob, W, Hs)
    for _ in range(30):
        W = update_W(prob, W, Hs)
        F1 = objective(prob, W, Hs)
        assert np.all(F1 <= F * (1 + 1e-12))
        F = F1
        WtW = np.matmul(W.transpose(0, 2, 1), W)
        for I in range(len(Xs)):
            Hs[I] = update_H(prob, W, WtW, Hs, I)
            F1 = objective(prob, W, Hs)
            assert np.all(F1 <= F * (1 + 1e-12))
            assert (Hs[I] >= 0).all()
            F = F1


def test_objective_terms_match_direct_formulas(problem):
    Xs, cross, graphs = problem
    prob = JointProblem(
        Xs, cross=[(I, J, 0.7, A) for (I, J), A in cross.items()], graphs=[(0.3, S) for S in graphs],
        gamma1=0.2, gamma2=0.4,
    )
    rng = np.random.RandomState(1)
    W = rng.rand(1, 30, 4)
    Hs = [rng.rand(1, 4, X.shape[1]) for X in Xs]
    t = objective_terms(prob, W, Hs)
    w, hs = W[0], [H[0] for H in Hs]
    fit = sum(np.linalg.norm(X - w @ h) ** 2 for X, h in zip(Xs, hs))
    crossv = -sum(0.7 * np.trace(hs[I] @ sp.csr_matrix(A).toarray() @ hs[J].T) for (I, J), A in cross.items())
    lap = 0.0
    for h, S in zip(hs, graphs):
        S = sp.csr_matrix(S).toarray()
        L = np.diag(S.sum(1)) - S
        lap += 0.3 * np.trace(h @ L @ h.T)
        # the paper's eq. 4 with the square restored: 1/2 sum s_pq ||h_p - h_q||^2
        pairwise = 0.5 * sum(S[p, q] * np.sum((h[:, p] - h[:, q]) ** 2) for p, q in zip(*np.nonzero(S)))
        assert np.isclose(np.trace(h @ L @ h.T), pairwise)
    assert np.isclose(t["fit"][0], fit)
    assert np.isclose(t["cross"][0], crossv)
    assert np.isclose(t["smoothness"][0], lap)
    assert np.isclose(t["basis"][0], 0.2 * np.sum(w * w))
    assert np.isclose(t["sparsity"][0], 0.4 * sum(np.sum(h.sum(0) ** 2) for h in hs))


def test_gradient_fixed_point_relation(problem):
    # ratio rule: H' = H * (num / den) with num - den = -1/2 grad, so a point with
    # zero gradient is a fixed point and the step direction is minus the gradient
    Xs, cross, graphs = problem
    prob = JointProblem(Xs, cross=[(I, J, 0.7, A) for (I, J), A in cross.items()],
                        graphs=[(0.3, S) for S in graphs], gamma1=0.2, gamma2=0.4)
    rng = np.random.RandomState(2)
    W = rng.rand(1, 30, 4)
    Hs = [rng.rand(1, 4, X.shape[1]) for X in Xs]
    WtW = np.matmul(W.transpose(0, 2, 1), W)
    H_new = update_H(prob, W, WtW, Hs, 1)
    # finite-difference gradient of F in H_1 at a few entries
    h = 1e-6
    for (i, j) in [(0, 0), (2, 5), (3, 30)]:
        Hp = [H.copy() for H in Hs]
        Hm = [H.copy() for H in Hs]
        Hp[1][0, i, j] += h
        Hm[1][0, i, j] -= h
        g = (objective(prob, W, Hp)[0] - objective(prob, W, Hm)[0]) / (2 * h)
        step = H_new[0, i, j] - Hs[1][0, i, j]
        assert np.sign(step) == -np.sign(g) or abs(g) < 1e-6 * abs(objective(prob, W, Hs)[0])


def _paper_literal_H_update(W, H, X, S, beta):
    """The JCB-SNMF paper's eq. 9 as printed: beta H L in the denominator, no S term above."""
    L = np.diag(S.sum(1)) - S
    return H * (W.T @ X) / (W.T @ W @ H + beta * H @ L)


def test_paper_literal_laplacian_rule_goes_negative_but_ours_does_not():
    rng = np.random.RandomState(3)
    n, p, k = 20, 15, 3
    X = rng.rand(n, p)
    X[:, :3] = 0.0  # all-zero data columns (spec §3 test 5)
    S = np.ones((p, p)) - np.eye(p)  # dense graph
    W = rng.rand(n, k)
    H = rng.rand(k, p)
    H[:, :3] = 1e-3  # columns shrinking towards zero while their neighbours are not
    beta = 1.0
    literal = _paper_literal_H_update(W, H, X, S, beta)
    assert literal.min() < 0  # the printed rule breaks nonnegativity

    prob = JointProblem([X], graphs=[(beta, S)])
    W3, H3 = W[None], [H[None]]
    ours = update_H(prob, W3, np.matmul(W3.transpose(0, 2, 1), W3), H3, 0)
    assert ours.min() >= 0
    assert objective(prob, W3, [ours])[0] <= objective(prob, W3, H3)[0]
    # and over many sweeps, with zero columns, entries stay >= 0 and without NaN
    res = run_batch(prob, W3, H3, max_iter=200, tol=0, check_every=1)[0]
    assert np.isfinite(res["Hs"][0]).all() and res["Hs"][0].min() >= 0
    assert np.all(np.diff(res["trace"]) <= 1e-12 * np.abs(res["trace"][:-1]))


def test_jnmf_equals_sklearn_mu_on_concatenation():
    """JNMF with zero penalties is Lee-Seung NMF of [X_1 ... X_M].

    scikit-learn's ``mu`` solver updates W then H in every iteration (the same
    Gauss-Seidel order as ours; with one shared W, updating H_1..H_M in sequence is
    the same as one update of the concatenated H because the H_I steps do not
    depend on each other when there are no cross terms). It computes
    ``W * (X H^T / (W H H^T))`` and ``H * (W^T X / (W^T W H))`` and only replaces
    denominators that are exactly zero by float32 eps, while we add float64 eps to
    every denominator. With positive data the denominators are >= O(1), so the
    added 2.2e-16 is below their rounding and the two agree to rounding error.
    """
    rng = np.random.RandomState(0)
    Xs, _, _ = make_problem(seed=7)
    k = 4
    W0 = rng.rand(30, k)
    H0 = [rng.rand(k, X.shape[1]) for X in Xs]
    ours = JNMF(k, init="custom", n_restarts=1, max_iter=200, tol=0).fit(
        Xs, init_basis=W0, init_coefficients=H0
    )
    sk = NMF(k, solver="mu", beta_loss="frobenius", init="custom", max_iter=200, tol=0,
             alpha_W=0.0, alpha_H=0.0)
    W_sk = sk.fit_transform(np.hstack(Xs), W=W0.copy(), H=np.hstack(H0).copy())
    H_sk = sk.components_
    assert sk.n_iter_ == ours.n_iter_ == 200
    assert np.max(np.abs(W_sk - ours.basis_)) <= 1e-10 * np.max(np.abs(W_sk))
    assert np.max(np.abs(H_sk - np.hstack(ours.coefficients_))) <= 1e-10 * np.max(np.abs(H_sk))
    assert np.isclose(ours.reconstruction_err_, sk.reconstruction_err_, rtol=1e-10)


def test_batched_restarts_equal_separate_runs(problem):
    Xs, cross, graphs = problem
    prob = JointProblem(Xs, cross=[(I, J, 0.5, A) for (I, J), A in cross.items()],
                        graphs=[(0.5, S) for S in graphs], gamma1=0.1, gamma2=1.0)
    rng = np.random.RandomState(4)
    W = rng.rand(3, 30, 4)
    Hs = [rng.rand(3, 4, X.shape[1]) for X in Xs]
    together = run_batch(prob, W, Hs, max_iter=200, tol=1e-5)
    for r in range(3):
        alone = run_batch(prob, W[r:r + 1], [H[r:r + 1] for H in Hs], max_iter=200, tol=1e-5)[0]
        assert alone["n_iter"] == together[r]["n_iter"]
        np.testing.assert_allclose(alone["W"], together[r]["W"], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(alone["trace"], together[r]["trace"], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("split_all", [False, True])
@pytest.mark.parametrize("n_threads", [2, 3])
def test_threaded_sweep_gives_the_same_numbers(problem, n_threads, split_all, dtype, monkeypatch):
    # the products with X, the sparse prior products and (for large blocks) the
    # element-wise H steps run on worker threads by blocks; every entry comes from
    # the same call and every sum is formed in the same order, so the iterates must
    # be bit-identical. A grid stack (one weight per restart) exercises the
    # per-restart terms as well; split_all makes every H step a split one.
    if split_all:
        monkeypatch.setattr(_core, "_SPLIT_ABOVE", 1)
    Xs, cross, graphs = problem
    graphs = [S if I != 1 else S.toarray() for I, S in enumerate(graphs)]  # one dense prior
    lam = np.array([0.1, 0.5, 2.0])
    prob = JointProblem(Xs, cross=[(I, J, lam if I == 0 else 0.3, A) for (I, J), A in cross.items()],
                        graphs=[(0.5 * lam, S) for S in graphs], gamma1=0.1, gamma2=lam, dtype=dtype)
    rng = np.random.RandomState(5)
    W = rng.rand(3, 30, 4)
    Hs = [rng.rand(3, 4, X.shape[1]) for X in Xs]
    one = run_batch(prob, W, Hs, max_iter=60, tol=0.0, n_threads=1)
    many = run_batch(prob, W, Hs, max_iter=60, tol=0.0, n_threads=n_threads)
    assert one[0]["W"].dtype == dtype
    for a, b in zip(one, many):
        np.testing.assert_array_equal(a["W"], b["W"])
        for Ha, Hb in zip(a["Hs"], b["Hs"]):
            np.testing.assert_array_equal(Ha, Hb)
        np.testing.assert_array_equal(a["trace"], b["trace"])


@pytest.mark.parametrize("sizes, n, k", [((1, 7), 2, 1), ((3,), 5, 2), ((1, 1, 40), 3, 3)])
def test_threaded_sweep_degenerate_shapes(sizes, n, k, monkeypatch):
    # blocks that cannot be split (one sample, one feature, one modality) and
    # forced splits of tiny H steps give the same numbers on 1 and 2 threads
    monkeypatch.setattr(_core, "_SPLIT_ABOVE", 1)
    rng = np.random.RandomState(3)
    Xs = [rng.rand(n, p) for p in sizes]
    cross = [(I, I + 1, 0.2, sp.csr_matrix(rng.rand(sizes[I], sizes[I + 1]) > 0.5, dtype=float))
             for I in range(len(sizes) - 1)]
    graphs = [(0.3, sp.csr_matrix(np.ones((p, p)) - np.eye(p))) for p in sizes]
    prob = JointProblem(Xs, cross=cross, graphs=graphs, gamma1=0.1, gamma2=0.1)
    W = rng.rand(2, n, k)
    Hs = [rng.rand(2, k, p) for p in sizes]
    one = run_batch(prob, W, Hs, max_iter=15, tol=0.0, n_threads=1)
    two = run_batch(prob, W, Hs, max_iter=15, tol=0.0, n_threads=2)
    for a, b in zip(one, two):
        assert np.isfinite(a["trace"]).all()
        assert np.all(np.diff(a["trace"]) <= 1e-12 * np.abs(a["trace"][:-1]))
        np.testing.assert_array_equal(a["W"], b["W"])
        for Ha, Hb in zip(a["Hs"], b["Hs"]):
            np.testing.assert_array_equal(Ha, Hb)


def test_zero_rows_and_columns_no_nan():
    Xs, cross, graphs = make_problem(seed=9)
    Xs[0][:, :4] = 0.0
    for X in Xs:
        X[5] = 0.0  # a sample with no signal anywhere
    Xs[2][:, -1] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for init in ("random", "nndsvda"):
            m = JCBSNMF(4, init=init, n_restarts=2, max_iter=100, random_state=0).fit(
                Xs, cross_adjacency=cross, graphs=graphs
            )
            assert np.isfinite(m.basis_).all()
            assert all(np.isfinite(H).all() and (H >= 0).all() for H in m.coefficients_)
            assert np.isfinite(m.objective_).all()
        # without priors, the coefficients of all-zero data columns decay to zero
        m = JNMF(4, n_restarts=1, max_iter=100, random_state=0).fit(Xs)
        assert m.coefficients_[0][:, :4].max() < 1e-3 * m.coefficients_[0].max()
        assert np.isfinite(m.basis_).all() and np.all(m.basis_[5] < 1e-3 * m.basis_.max())
