"""Solver core: penalty terms (majorisation, Hessians) and linear solvers."""

import numpy as np
import pytest
import scipy.linalg as la
import scipy.sparse as sp

from imaging_genetics.cca._core import (
    L1,
    L21,
    Fusion,
    GraphNet,
    GroupL21,
    LinearSolver,
    PenaltyMatrix,
    Ridge,
)
from imaging_genetics.networks import laplacian

RNG = np.random.default_rng(3)


def _random_laplacian(m, seed):
    rng = np.random.default_rng(seed)
    A = sp.random(m, m, density=0.2, random_state=rng)
    A = A + A.T
    A.setdiag(0)
    return laplacian(A)


def _terms(m, K):
    return {
        "l1": L1(0.7),
        "l21": L21(0.4),
        "group": GroupL21(0.3, np.arange(m) // 3),
        "graph_shared": GraphNet(0.5, _random_laplacian(m, 1)),
        "graph_each": GraphNet(0.5, [_random_laplacian(m, s) for s in range(K)]),
        "ridge": Ridge(0.2),
        "fusion": Fusion(0.6),
    }


@pytest.mark.parametrize("name", list(_terms(6, 3)))
def test_surrogate_majorises_and_touches(name):
    """surrogate(w; w_old) >= value(w), with equality at w = w_old."""
    m, K = 7, 3
    term = _terms(m, K)[name]
    for _ in range(20):
        old = [RNG.standard_normal(m) for _ in range(K)]
        new = [RNG.standard_normal(m) for _ in range(K)]
        assert term.surrogate(old, old) == pytest.approx(term.value(old), rel=1e-9, abs=1e-9)
        assert term.surrogate(new, old) >= term.value(new) - 1e-9


@pytest.mark.parametrize("name", list(_terms(6, 3)))
def test_hessian_is_half_gradient_of_surrogate(name):
    """The matrix added to the linear system is half the surrogate's Hessian."""
    m, K = 6, 3
    term = _terms(m, K)[name]
    old = [RNG.standard_normal(m) for _ in range(K)]
    w = [RNG.standard_normal(m) for _ in range(K)]
    H = term.hessian(old, stacked=True).toarray()
    x = np.concatenate(w)
    h = 1e-6
    grad = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        up = np.split(x + e, K)
        dn = np.split(x - e, K)
        grad[i] = (term.surrogate(up, old) - term.surrogate(dn, old)) / (2 * h)
    np.testing.assert_allclose(H @ x, grad / 2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stacked", [True, False])
def test_sum_of_hessians_equals_the_plain_sum_and_diagonal_terms_are_diagonal(stacked):
    """Diagonal terms are summed as vectors: the total is still the sum of every
    term's Hessian, and a term that reports a diagonal has no other entries."""
    from imaging_genetics.cca._base import _sum_hessians

    m, K = 6, 3
    terms = _terms(m, K)
    if not stacked:  # the shared layout: one vector for every task
        terms = {k: t for k, t in terms.items() if k in ("l21", "group", "graph_shared", "ridge")}
        K = 1
    old = [RNG.standard_normal(m) for _ in range(K)]
    dim = m * K if stacked else m
    for t in terms.values():
        d = t.hessian_diagonal(old, stacked)
        if d is not None:
            H = t.hessian(old, stacked).toarray()
            np.testing.assert_array_equal(H, np.diag(d))
    plain = sum(t.hessian(old, stacked).toarray() for t in terms.values())
    total = _sum_hessians(list(terms.values()), old, stacked, dim)
    assert isinstance(total, PenaltyMatrix)
    np.testing.assert_allclose(total.toarray(), plain, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(total.diagonal(), np.diag(plain), rtol=1e-14, atol=1e-14)
    x = RNG.standard_normal((dim, 2))
    np.testing.assert_allclose(total.matvec(x), plain @ x, rtol=1e-12, atol=1e-12)
    # the stacked Laplacian is built once and reused, never modified by the sum
    again = _sum_hessians(list(terms.values()), old, stacked, dim)
    np.testing.assert_array_equal(again.toarray(), total.toarray())


def test_sum_of_diagonal_hessians_is_their_diagonal_vector():
    """With only diagonal terms the sum is kept as the diagonal vector (no sparse
    matrix per iteration), equal to the plain sum of the terms' Hessians."""
    from imaging_genetics.cca._base import _sum_hessians

    m, K = 6, 3
    terms = [t for name, t in _terms(m, K).items() if name in ("l1", "l21", "group", "ridge")]
    old = [RNG.standard_normal(m) for _ in range(K)]
    total = _sum_hessians(terms, old, True, m * K)
    assert total.matrix is None and total.vector.shape == (m * K,)
    plain = sum(t.hessian(old, True).toarray() for t in terms)
    np.testing.assert_allclose(np.diag(total.vector), plain, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("graph", [False, True])
@pytest.mark.parametrize("method,sizes", [("dense", (12,)), ("cg", (12,)), ("woodbury", (90,)),
                                          ("dense", (5, 7)), ("cg", (5, 7))])
def test_penalty_in_parts_solves_like_the_summed_matrix(method, sizes, graph):
    """Every solver gives the same solution for H kept as a sparse part plus a
    diagonal vector (or the vector alone) as for the summed sparse matrix, and
    that solution solves the system."""
    rng = np.random.default_rng(8)
    n = 30 if method == "woodbury" else 40
    Zs = [rng.standard_normal((n, m)) for m in sizes]
    dim = sum(sizes)
    d = rng.uniform(0.05, 2.0, dim)
    L = 0.4 * _random_laplacian(dim, 2) if graph else None
    B = rng.standard_normal((dim, 2))
    parts = PenaltyMatrix(L, d) if graph else d
    summed = sp.csr_matrix(sp.diags(d) + (L if graph else 0))
    with_parts = LinearSolver(Zs, 1.5, method=method).solve(parts, B)
    with_matrix = LinearSolver(Zs, 1.5, method=method).solve(summed, B)
    np.testing.assert_allclose(with_parts, with_matrix, rtol=1e-9, atol=1e-11)
    A = la.block_diag(*[1.5 * Z.T @ Z / n for Z in Zs]) + summed.toarray()
    np.testing.assert_allclose(A @ with_parts, B, atol=1e-8)


def test_graphnet_value_with_a_shared_laplacian_is_the_sum_over_vectors():
    L = _random_laplacian(9, 4)
    ws = [RNG.standard_normal(9) for _ in range(4)]
    term = GraphNet(0.7, L)
    expected = 0.7 * sum(float(w @ (L.toarray() @ w)) for w in ws)
    assert term.value(ws) == pytest.approx(expected, rel=1e-13)
    assert term.value(ws[:1]) == pytest.approx(0.7 * float(ws[0] @ (L.toarray() @ ws[0])), rel=1e-13)


def test_l1_refuses_shared_layout_with_several_columns():
    with pytest.raises(ValueError, match="one column"):
        L1(1.0).hessian([np.ones(3), np.ones(3)], stacked=False)


def _spd_problem(n=60, m=80, r=3, seed=0):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, m))
    H = sp.diags(rng.uniform(0.1, 2.0, m)) + 0.3 * _random_laplacian(m, seed)
    B = rng.standard_normal((m, r))
    return Z, H, B


def test_cg_equals_dense_and_never_forms_the_gram(monkeypatch):
    Z, H, B = _spd_problem()
    dense = LinearSolver([Z], 2.0, method="dense").solve(H, B)
    cg = LinearSolver([Z], 2.0, method="cg")
    monkeypatch.setattr(LinearSolver, "_dense_gram", lambda self: pytest.fail("p x p formed"))
    sol = cg.solve(H, B)
    np.testing.assert_allclose(sol, dense, rtol=1e-8, atol=1e-10)
    # Residual of the system itself.
    A = 2.0 * Z.T @ Z / Z.shape[0] + H.toarray()
    np.testing.assert_allclose(A @ sol, B, atol=1e-8)


def test_cg_warm_start_uses_fewer_iterations():
    Z, H, B = _spd_problem(seed=1)
    s = LinearSolver([Z], 1.0, method="cg")
    s.solve(H, B)
    first = s.cg_iterations
    s.solve(H, B * 1.0001)
    assert s.cg_iterations - first < first


def test_cg_from_a_start_tracks_the_image_and_never_raises_the_quadratic():
    Z, H, B = _spd_problem(seed=2)
    A = 1.5 * Z.T @ Z / Z.shape[0] + H.toarray()

    def quad(W):  # the energy CG minimises, per column
        return 0.5 * np.einsum("ij,ij->j", W, A @ W) - np.einsum("ij,ij->j", B, W)

    exact = np.linalg.solve(A, B)
    start = exact + 0.3 * RNG.standard_normal(exact.shape)
    s = LinearSolver([Z], 1.5, method="cg")
    # a loose solve: few iterations, yet never above the start's energy
    loose = s.solve(H, B, x0=start, rtol=1e-1, x0_image=Z @ start)
    assert s.last_rtol == pytest.approx(1e-1)
    assert np.all(quad(loose) <= quad(start) + 1e-12)
    # the image Z @ W is carried through the iterations, not recomputed
    np.testing.assert_allclose(s.last_image, Z @ loose, rtol=1e-10, atol=1e-12)
    tight = s.solve(H, B, x0=loose, x0_image=s.last_image, x0_gram=Z.T @ s.last_image)
    np.testing.assert_allclose(tight, exact, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(s.last_image, Z @ tight, rtol=1e-10, atol=1e-12)
    assert s.last_rtol == s.cg_tol
    # direct solves are exact and report no image
    d = LinearSolver([Z], 1.5, method="dense")
    d.solve(H, B, x0=start, rtol=1e-1)
    assert d.last_rtol == 0.0 and d.last_image is None


def test_auto_switches_on_dimension():
    Z = np.ones((8, 10))
    assert LinearSolver([Z], method="auto", dense_max=20).method == "dense"
    assert LinearSolver([Z], method="auto", dense_max=5).method == "cg"
    # at most a quarter as many samples as features: the n x n capacitance solve
    assert LinearSolver([np.ones((5, 20))], method="auto").method == "woodbury"
    assert LinearSolver([np.ones((6, 20))], method="auto").method == "dense"
    # several blocks (the stacked imaging layout) keep the block solvers
    assert LinearSolver([np.ones((5, 20))] * 2, method="auto").method == "dense"


def _wide_problem(n=30, m=90, r=3, seed=5, graph=True):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, m))
    H = sp.diags(rng.uniform(0.05, 2.0, m))
    if graph:
        H = H + 0.4 * _random_laplacian(m, seed)
    return Z, sp.csr_matrix(H), rng.standard_normal((m, r))


@pytest.mark.parametrize("graph", [False, True])
def test_woodbury_equals_dense_and_never_forms_the_gram(monkeypatch, graph):
    Z, H, B = _wide_problem(graph=graph)
    dense = LinearSolver([Z], 3.0, method="dense").solve(H, B)
    wb = LinearSolver([Z], 3.0, method="woodbury")
    monkeypatch.setattr(LinearSolver, "_dense_gram", lambda self: pytest.fail("p x p formed"))
    monkeypatch.setattr(LinearSolver, "_solve_cg", lambda self, H, B: pytest.fail("fell back"))
    sol = wb.solve(H, B)
    np.testing.assert_allclose(sol, dense, rtol=1e-9, atol=1e-11 * np.abs(dense).max())
    A = 3.0 * Z.T @ Z / Z.shape[0] + H.toarray()
    np.testing.assert_allclose(A @ sol, B, atol=1e-9)


def test_woodbury_falls_back_when_the_penalty_is_too_small():
    # H^-1 would amplify rounding by ~1e12: the solve must go to Cholesky instead
    Z, _, B = _wide_problem(graph=False)
    H = sp.diags(np.full(Z.shape[1], 1e-12))
    solver = LinearSolver([Z], 1.0, method="woodbury")
    called = []
    original = LinearSolver._solve_dense

    def spy(self, H, B):
        called.append(True)
        return original(self, H, B)

    LinearSolver._solve_dense = spy
    try:
        sol = solver.solve(H, B)
    finally:
        LinearSolver._solve_dense = original
    assert called
    np.testing.assert_array_equal(sol, LinearSolver([Z], 1.0, method="dense").solve(H, B))


def test_stacked_blocks_match_block_diagonal_dense():
    rng = np.random.default_rng(4)
    Zs = [rng.standard_normal((40, 5)), rng.standard_normal((40, 7))]
    H = sp.diags(rng.uniform(0.5, 1.0, 12))
    b = rng.standard_normal(12)
    x = LinearSolver(Zs, method="cg").solve(H, b)
    A = np.zeros((12, 12))
    A[:5, :5] = Zs[0].T @ Zs[0] / 40
    A[5:, 5:] = Zs[1].T @ Zs[1] / 40
    np.testing.assert_allclose((A + H.toarray()) @ x, b, atol=1e-9)


@pytest.mark.parametrize("coupled", [False, True])
def test_dense_stacked_solve_by_blocks_when_the_penalty_does_not_couple_them(coupled, monkeypatch):
    """Uncoupled blocks are factorised one by one, a coupling penalty (the fusion
    term) keeps the whole system; both solve the stacked system exactly."""
    rng = np.random.default_rng(5)
    Zs = [rng.standard_normal((40, 5)), rng.standard_normal((40, 7)), rng.standard_normal((40, 5))]
    H = sp.diags(rng.uniform(0.5, 1.0, 17)).tocsr()
    if coupled:  # a fusion-like pair c (x_0 - x_12)^2 between the first and the last block
        c = 0.3
        H = (H + sp.csr_matrix(([c, c, -c, -c], ([0, 12, 0, 12], [0, 12, 12, 0])), shape=(17, 17))).tocsr()
    B = rng.standard_normal((17, 2))
    solver = LinearSolver(Zs, method="dense")
    sizes = []
    real = la.cho_factor

    def spy(A, *a, **kw):
        sizes.append(A.shape[0])
        return real(A, *a, **kw)

    monkeypatch.setattr(la, "cho_factor", spy)
    X = solver.solve(H, B)
    A = np.zeros((17, 17))
    for Z, sl in zip(Zs, (slice(0, 5), slice(5, 12), slice(12, 17))):
        A[sl, sl] = Z.T @ Z / 40
    np.testing.assert_allclose((A + H.toarray()) @ X, B, atol=1e-10)
    assert sizes == ([17] if coupled else [5, 7, 5])


@pytest.mark.parametrize("n", [60, 10])  # Cholesky, and Woodbury (n <= p / 4)
def test_auto_starts_with_cg_and_factorises_once_a_solve_struggles(n, monkeypatch):
    """Above CG_FIRST_ABOVE, "auto" uses conjugate gradients while they converge
    within CG_BUDGET iterations; an ill-conditioned system (a tiny penalty with
    p > n) makes it factorise, exactly, for the rest of the fit."""
    import imaging_genetics.cca._core as core

    monkeypatch.setattr(core, "CG_FIRST_ABOVE", 20)
    rng = np.random.default_rng(6)
    m = 80
    Z = rng.standard_normal((n, m))
    B = rng.standard_normal((m, 2))
    direct = "woodbury" if 4 * n <= m else "dense"

    well = LinearSolver([Z])
    assert well.method == "cg"
    H_well = sp.diags(rng.uniform(1.0, 2.0, m)).tocsr()
    X = well.solve(H_well, B)
    assert well.method == "cg" and well.last_rtol > 0
    np.testing.assert_allclose((Z.T @ Z / n + H_well.toarray()) @ X, B, atol=1e-8)

    ill = LinearSolver([Z])
    H_ill = sp.diags(np.full(m, 1e-6)).tocsr()
    X = ill.solve(H_ill, B)
    assert ill.method == direct and ill.last_rtol == 0.0
    np.testing.assert_allclose((Z.T @ Z / n + H_ill.toarray()) @ X, B, rtol=1e-6, atol=1e-6)
    X2 = ill.solve(H_well, B)  # stays factorised
    assert ill.method == direct and ill.cg_iterations == core.CG_BUDGET
    np.testing.assert_allclose((Z.T @ Z / n + H_well.toarray()) @ X2, B, atol=1e-8)
