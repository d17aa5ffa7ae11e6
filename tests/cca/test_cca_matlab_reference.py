"""MTS2CCA against a line-by-line numpy transcription of the released ``mts2cca.m``.

The transcription follows spec §2.2 step by step: z-scored columns (SD with n - 1),
X'X and X'Y_k without division by n, U = V = 1 and d1 = d2 = 1 at the start, one
U-step system ``(X'X + lambda1 L_x + beta1 D1) U = [X'Y_k v_k]`` for all tasks,
columns scaled to ``u' X'X u = 1``, ``d1_i = 1 / (2 sqrt(sum_k u_ik^2 + eps))`` from
the scaled U, then the V-steps per modality with one shared D2 (r1 = r2 = 0, the
paper's four-parameter model). Its 0.2 stopping rule is replaced by a fixed, large
number of iterations, so both codes are compared at their common fixed point.

A second transcription follows the core of Du et al.'s multi-task SCCA code
(spec §3: columns centred and scaled to unit l2 norm, V-step first, weights scaled to
``||X u|| = 1``, the same reweighting), without its optional l1,1 term: the model
MTSCCA implements.

Parameter scale. With ``u' X'X u = 1`` on z-scored data a MATLAB weight vector is
``1 / sqrt(n - 1)`` times a unit-variance one, so its reweighting matrix D is
``sqrt(n - 1)`` times ours, while X'X, X'Y and the Laplacian terms are ``n - 1``
times the correlation-scale ones. Hence ``lambda_MATLAB = (n - 1) * smoothness`` for
the quadratic (Laplacian) terms but ``beta_MATLAB = sqrt(n - 1) * sparsity`` for the
norm penalties, which are homogeneous of degree one in the weights.
"""

import numpy as np
import pytest

from imaging_genetics.cca import MTS2CCA, MTSCCA

EPS = np.finfo(float).eps


def _zscore(A):
    return (A - A.mean(axis=0)) / A.std(axis=0, ddof=1)


def mts2cca_m(X, Ys, Lx, Lys, beta1, beta2, lam1, lam2, n_iter):
    """Transcription of the released algorithm (spec §2.2), dense, r1 = r2 = 0."""
    X = _zscore(X)
    Ys = [_zscore(Y) for Y in Ys]
    K, p, q = len(Ys), X.shape[1], Ys[0].shape[1]
    XX = X.T @ X
    XY = [X.T @ Y for Y in Ys]
    YY = [Y.T @ Y for Y in Ys]
    U, V = np.ones((p, K)), np.ones((q, K))
    d1, d2 = np.ones(p), np.ones(q)
    for _ in range(n_iter):
        B = np.column_stack([XY[k] @ V[:, k] for k in range(K)])
        U = np.linalg.solve(XX + lam1 * Lx + beta1 * np.diag(d1), B)
        for k in range(K):
            U[:, k] /= np.sqrt(U[:, k] @ XX @ U[:, k])
        d1 = 1.0 / (2.0 * np.sqrt(np.sum(U ** 2 + EPS, axis=1)))
        for k in range(K):
            V[:, k] = np.linalg.solve(YY[k] + lam2 * Lys[k] + beta2 * np.diag(d2), XY[k].T @ U[:, k])
            V[:, k] /= np.sqrt(V[:, k] @ YY[k] @ V[:, k])
        d2 = 1.0 / (2.0 * np.sqrt(np.sum(V ** 2 + EPS, axis=1)))
    return U, V


def _problem(seed=0, n=150, p=24, q=10, K=3):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, K))
    X = rng.standard_normal((n, p))
    X[:, :4] += Z @ rng.uniform(0.5, 1.0, (K, 4))
    Ys = []
    for k in range(K):
        Y = rng.standard_normal((n, q))
        Y[:, :3] += 1.2 * Z[:, [k]]
        Ys.append(Y)

    def chain(m):  # a path graph with random positive weights
        A = np.zeros((m, m))
        w = rng.uniform(0.2, 1.0, m - 1)
        A[np.arange(m - 1), np.arange(1, m)] = w
        return A + A.T

    Ax, Ays = chain(p), [chain(q) for _ in range(K)]
    lap = lambda A: np.diag(A.sum(axis=1)) - A  # noqa: E731
    return X, Ys, Ax, Ays, lap(Ax), [lap(A) for A in Ays]


def _cosines(A, B):
    A = A / np.linalg.norm(A, axis=0)
    B = B / np.linalg.norm(B, axis=0)
    return np.abs(np.sum(A * B, axis=0))


@pytest.mark.parametrize("beta, lam", [((2.0, 1.0), (5.0, 3.0)), ((6.0, 4.0), (0.0, 0.0))])
def test_mts2cca_reproduces_the_released_algorithm(beta, lam):
    X, Ys, Ax, Ays, Lx, Lys = _problem()
    n = X.shape[0]
    U_m, V_m = mts2cca_m(X, Ys, Lx, Lys, *beta, *lam, n_iter=3000)
    root, full = np.sqrt(n - 1), n - 1
    model = MTS2CCA(sparsity_x=beta[0] / root, sparsity_y=beta[1] / root, smoothness_x=lam[0] / full,
                    smoothness_y=lam[1] / full, tol=1e-12, max_iter=20000, solver="dense")
    model.fit(X, Ys, x_adjacency=Ax, y_adjacency=Ays)
    # the fitted weights apply to standardised columns, as the transcription's do (the
    # two standardisations differ by one common factor, which the cosine ignores)
    U, V = model.x_weights_, np.column_stack(model.y_weights_)
    assert np.all(_cosines(U, U_m) > 1 - 1e-8)
    assert np.all(_cosines(V, V_m) > 1 - 1e-8)


def test_the_documented_scale_mapping_is_the_right_one():
    # with the linear (n - 1) mapping for the l2,1 weight the fixed points differ
    X, Ys, Ax, Ays, Lx, Lys = _problem(seed=1)
    n = X.shape[0]
    U_m, _ = mts2cca_m(X, Ys, Lx, Lys, 6.0, 4.0, 0.0, 0.0, n_iter=3000)
    right = MTSCCA(sparsity_x=6.0 / np.sqrt(n - 1), sparsity_y=4.0 / np.sqrt(n - 1), tol=1e-12,
                   max_iter=20000).fit(X, Ys)
    wrong = MTSCCA(sparsity_x=6.0 / (n - 1), sparsity_y=4.0 / (n - 1), tol=1e-12, max_iter=20000).fit(X, Ys)
    assert np.min(_cosines(right.x_weights_, U_m)) > 1 - 1e-8
    assert np.min(_cosines(wrong.x_weights_, U_m)) < 1 - 1e-4


def mtscca_du(X, Ys, beta1, beta2, n_iter):
    """Core of Du et al.'s multi-task SCCA code (spec §3) without the l1,1 term."""
    unit = lambda A: (A - A.mean(axis=0)) / np.linalg.norm(A - A.mean(axis=0), axis=0)  # noqa: E731
    X = unit(X)
    Ys = [unit(Y) for Y in Ys]
    K = len(Ys)
    U = np.ones((X.shape[1], K))
    V = np.ones((Ys[0].shape[1], K))
    for k in range(K):
        U[:, k] /= np.linalg.norm(X @ U[:, k])
        V[:, k] /= np.linalg.norm(Ys[k] @ V[:, k])
    XX = X.T @ X
    for _ in range(n_iter):
        d2 = 1.0 / (2.0 * np.sqrt(np.sum(V ** 2, axis=1) + EPS))
        for k in range(K):
            V[:, k] = np.linalg.solve(Ys[k].T @ Ys[k] + beta2 * np.diag(d2), Ys[k].T @ (X @ U[:, k]))
            V[:, k] /= np.linalg.norm(Ys[k] @ V[:, k])
        d1 = 1.0 / (2.0 * np.sqrt(np.sum(U ** 2, axis=1) + EPS))
        for k in range(K):
            U[:, k] = np.linalg.solve(XX + beta1 * np.diag(d1), X.T @ (Ys[k] @ V[:, k]))
            U[:, k] /= np.linalg.norm(X @ U[:, k])
    return U, V


def test_mtscca_reproduces_du_et_al_on_their_scale():
    X, Ys, *_ = _problem(seed=2)
    U_d, V_d = mtscca_du(X, Ys, 0.4, 0.3, n_iter=3000)
    model = MTSCCA(sparsity_x=0.4, sparsity_y=0.3, tol=1e-12, max_iter=20000).fit(X, Ys)
    assert np.all(_cosines(model.x_weights_, U_d) > 1 - 1e-8)
    assert np.all(_cosines(np.column_stack(model.y_weights_), V_d) > 1 - 1e-8)
