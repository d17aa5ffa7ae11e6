"""The joint NMF models against an independent plain-numpy reference of the spec.

The reference below is written from ``specs/joint_nmf.md`` alone (not from the
package): the objective of §1.2 (evaluated directly, without the Gram trick), the
gradient of §2.1 and the "ratio" multiplicative updates of §2.2 in Gauss-Seidel
order (W, then H_1..H_M with the newest blocks), with ε = float64 machine eps
added to every denominator (§2.3, §2.6). The priors are scaled to unit spectral
norm after the graph diagonal is dropped (spec "Decisions for this package", 2).

JCB-SNMF contains the other models (§1.3): JNMF is λ = β = γ1 = γ2 = 0 and
JSNMNMF is β = 0. Every comparison starts the package and the reference from the
same factors (``init="custom"``, one restart, ``tol=0``, ``max_iter=T``).
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from imaging_genetics.nmf import JCBSNMF, JNMF, JSNMNMF

EPS = np.finfo(np.float64).eps
RTOL = 1e-10

# ---------------------------------------------------------------------------
# reference implementation (spec §1.2, §2.1, §2.2, §2.3)
# ---------------------------------------------------------------------------


def _unit_spectral(A):
    s = np.linalg.norm(A, 2)
    return A / s if s > 0 else A


def ref_priors(cross, graphs, M):
    """Decision 2: A_IJ / ||A_IJ||_2 (keys made I < J), S_I with zero diagonal / ||S_I||_2."""
    A = {}
    for (I, J), a in (cross or {}).items():
        a = np.asarray(a, dtype=float)
        if I > J:
            I, J, a = J, I, a.T
        A[(I, J)] = _unit_spectral(a)
    S = []
    for I in range(M):
        g = None if graphs is None else graphs[I]
        if g is None:
            S.append(None)
            continue
        g = np.array(g, dtype=float)
        np.fill_diagonal(g, 0.0)
        S.append(_unit_spectral(g))
    return A, S


class Ref:
    """The spec's JCB-SNMF with normalised priors A, S and weights λ_IJ, β_I, γ1, γ2."""

    def __init__(self, Xs, A, S, lam, beta, g1, g2):
        self.Xs, self.A, self.S = Xs, A, S
        self.lam = {pq: lam.get(pq, 0.0) for pq in A} if isinstance(lam, dict) else {pq: lam for pq in A}
        self.beta = list(beta) if np.ndim(beta) else [beta] * len(Xs)
        self.g1, self.g2 = g1, g2

    def terms(self, W, Hs):
        """Spec §1.2 (corrected eq. 6), term by term."""
        smooth = 0.0
        for I, H in enumerate(Hs):
            if self.S[I] is not None:
                L = np.diag(self.S[I].sum(axis=1)) - self.S[I]
                smooth += self.beta[I] * np.trace(H @ L @ H.T)
        return {
            "fit": sum(np.sum((X - W @ H) ** 2) for X, H in zip(self.Xs, Hs)),
            "cross": -sum(self.lam[(I, J)] * np.trace(Hs[I] @ a @ Hs[J].T) for (I, J), a in self.A.items()),
            "smoothness": smooth,
            "basis": self.g1 * np.sum(W**2),
            "sparsity": self.g2 * sum(np.sum(H.sum(axis=0) ** 2) for H in Hs),
        }

    def F(self, W, Hs):
        return sum(self.terms(W, Hs).values())

    def C(self, I, Hs):
        """Spec §2.1: C_I = Σ_{J>I} λ_IJ H_J A_IJᵀ + Σ_{J<I} λ_JI H_J A_JI."""
        C = np.zeros_like(Hs[I])
        for (P, Q), a in self.A.items():
            if P == I:
                C += self.lam[(P, Q)] * Hs[Q] @ a.T
            elif Q == I:
                C += self.lam[(P, Q)] * Hs[P] @ a
        return C

    def grad_H(self, W, Hs, I):
        """Spec §2.1: ∇_{H_I} F."""
        H, k = Hs[I], W.shape[1]
        g = 2 * (W.T @ W @ H - W.T @ self.Xs[I]) - self.C(I, Hs) + 2 * self.g2 * np.ones((k, k)) @ H
        if self.S[I] is not None:
            g += 2 * self.beta[I] * H @ (np.diag(self.S[I].sum(axis=1)) - self.S[I])
        return g

    def grad_W(self, W, Hs):
        """Spec §2.1: ∇_W F."""
        return 2 * (W @ sum(H @ H.T for H in Hs) - sum(X @ H.T for X, H in zip(self.Xs, Hs))) + 2 * self.g1 * W

    def sweep(self, W, Hs):
        """Spec §2.2: (1) the W step, then (2) H_1..H_M in sequence (Gauss-Seidel), ratio rule."""
        k = W.shape[1]
        W = W * sum(X @ H.T for X, H in zip(self.Xs, Hs)) / (
            W @ (sum(H @ H.T for H in Hs) + self.g1 * np.eye(k)) + EPS)
        WtW = W.T @ W
        Hs = [H.copy() for H in Hs]
        for I, X in enumerate(self.Xs):
            H = Hs[I]
            B = W.T @ X + 0.5 * self.C(I, Hs)  # B_I, uses the newest H_J
            P = WtW @ H + self.g2 * np.ones((k, k)) @ H  # E_k H_I
            N = 0.0
            if self.S[I] is not None:
                N = self.beta[I] * H @ self.S[I]
                P = P + self.beta[I] * H * self.S[I].sum(axis=1)[None, :]  # H_I D_I
            Hs[I] = H * (B + N) / (P + EPS)
        return W, Hs

    def run(self, W, Hs, T, tol=0.0, check_every=10):
        """Spec §2.3 loop for one restart; returns W, Hs, the per-sweep F and the checked F."""
        F0 = Fprev = self.F(W, Hs)
        every, checked = [F0], [F0]
        t = 0
        for t in range(1, T + 1):
            W, Hs = self.sweep(W, Hs)
            every.append(self.F(W, Hs))
            if t % check_every == 0:
                checked.append(every[-1])
                if tol > 0 and Fprev - every[-1] <= tol * max(abs(F0), np.finfo(float).tiny):
                    return W, Hs, np.array(every), np.array(checked), t
                Fprev = every[-1]
        if T % check_every:
            checked.append(every[-1])
        return W, Hs, np.array(every), np.array(checked), t


# ---------------------------------------------------------------------------
# problems and settings
# ---------------------------------------------------------------------------


def make_problem(seed, p=(7, 9, 5), n=12, k=3, density=0.3, symmetric_cross=False):
    """Random nonnegative data, sparse nonnegative priors and a strictly positive start."""
    rng = np.random.RandomState(seed)
    W0 = rng.uniform(0, 2, (n, k))
    Xs = [np.maximum(W0 @ rng.uniform(0, 2, (k, q)) + 0.3 * rng.randn(n, q), 0) for q in p]
    cross = {}
    for I in range(len(p)):
        for J in range(I + 1, len(p)):
            A = sp.random(p[I], p[J], density=density, random_state=rng).toarray()
            cross[(I, J)] = A + A.T if symmetric_cross else A
    graphs = []
    for q in p:
        S = sp.random(q, q, density=density, random_state=rng).toarray()
        S = S + S.T
        np.fill_diagonal(S, 0)
        graphs.append(S)
    W = rng.uniform(0.1, 1, (n, k))
    Hs = [rng.uniform(0.1, 1, (k, q)) for q in p]
    return Xs, cross, graphs, W, Hs


def fit_package(cls, params, Xs, cross, graphs, W, Hs, T, tol=0.0):
    model = cls(n_components=W.shape[1], init="custom", n_restarts=1, tol=tol, max_iter=T, **params)
    kw = {}
    if cross is not None:
        kw["cross_adjacency"] = cross
    if graphs is not None:
        kw["graphs"] = graphs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(Xs, init_basis=W, init_coefficients=Hs, **kw)


def reference_for(cls, params, Xs, cross, graphs):
    """The spec's special case of JCB-SNMF that ``cls`` implements (§1.3)."""
    A, S = ref_priors(cross if cls is not JNMF else None, graphs if cls is JCBSNMF else None, len(Xs))
    lam = params.get("cross_strength", 0.0)
    if isinstance(lam, dict):
        lam = {(min(I, J), max(I, J)): v for (I, J), v in lam.items()}
    return Ref(Xs, A, S, lam, params.get("smoothness", 0.0), params.get("basis_penalty", 0.0),
               params.get("sparsity", 0.0))


LAM = {(0, 1): 1.0, (0, 2): 0.5, (1, 2): 2.0}
STRONG = dict(cross_strength=LAM, smoothness=[1.0, 5.0, 0.2], basis_penalty=1.0, sparsity=2.0)


def _reverse(cross):
    return {(J, I): a.T for (I, J), a in cross.items()}


# (id, model, parameters, problem keywords, how the priors are passed)
CASES = [
    ("JNMF", JNMF, {}, {}, "none"),
    ("JCB-zero-penalties", JCBSNMF, dict(cross_strength=0.0, smoothness=0.0, basis_penalty=0.0, sparsity=0.0),
     {}, "all"),
    ("JSNMNMF", JSNMNMF, dict(cross_strength=0.3, basis_penalty=0.1, sparsity=0.5), {}, "all"),
    ("JCB-moderate", JCBSNMF, dict(cross_strength=0.2, smoothness=0.5, basis_penalty=0.1, sparsity=0.3), {}, "all"),
    ("JCB-strong-per-pair", JCBSNMF, STRONG, {}, "all"),
    ("JCB-reversed-keys", JCBSNMF, STRONG, {}, "reversed"),
    ("JCB-one-pair-one-graph-None", JCBSNMF,
     dict(cross_strength=0.7, smoothness=0.4, basis_penalty=0.2, sparsity=0.4), {}, "partial"),
    ("JCB-square-asymmetric-A", JCBSNMF, dict(STRONG, basis_penalty=0.5), dict(p=(8, 8, 8)), "all"),
    ("JCB-square-symmetric-A", JCBSNMF, dict(STRONG, basis_penalty=0.5),
     dict(p=(8, 8, 8), symmetric_cross=True), "all"),
]


def _priors(how, cross, graphs):
    if how == "none":
        return None, None
    if how == "reversed":
        return _reverse(cross), graphs
    if how == "partial":
        return {(0, 2): cross[(0, 2)]}, [graphs[0], None, graphs[2]]
    return cross, graphs


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(b)))


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_factors_and_objective_match_the_spec_reference(case):
    """Spec §2.2 updates (Gauss-Seidel) and §1.2 objective, after 1, 2 and 50 sweeps.

    From the same start, W and every H_I agree with the reference to ``RTOL``;
    ``objective_`` (F at sweep 0, every 10 sweeps and at the last sweep) equals the
    reference's F at those sweeps; ``objective_terms_`` equals the §1.2 terms
    evaluated on the package's own factors, and they sum to ``objective_[-1]``.
    """
    _, cls, params, pkw, how = case
    Xs, cross, graphs, W, Hs = make_problem(3, **pkw)
    cross, graphs = _priors(how, cross, graphs)
    ref = reference_for(cls, params, Xs, cross, graphs)
    for T in (1, 2, 50):
        model = fit_package(cls, params, Xs, cross, graphs, W, Hs, T)
        Wr, Hr, _, checked, _ = ref.run(W, Hs, T)
        np.testing.assert_allclose(model.basis_, Wr, rtol=RTOL, atol=RTOL * np.abs(Wr).max())
        for Hp, Hq in zip(model.coefficients_, Hr):
            np.testing.assert_allclose(Hp, Hq, rtol=RTOL, atol=RTOL * np.abs(Hq).max())
        np.testing.assert_allclose(model.objective_, checked, rtol=RTOL)
        terms = ref.terms(model.basis_, model.coefficients_)
        F = sum(terms.values())
        assert set(model.objective_terms_) == set(terms)
        for key, value in terms.items():
            assert abs(model.objective_terms_[key] - value) <= RTOL * abs(F), key
        assert model.objective_[-1] == pytest.approx(F, rel=RTOL)
        np.testing.assert_allclose(model.reconstruction_err_, np.sqrt(terms["fit"]), rtol=RTOL)


def test_every_penalty_is_active_in_the_strong_setting():
    """The comparison has teeth: in the strong setting every term of §1.2 is a sizeable
    part of F, and the spec's factors (½ on λ, β without ½, §2.2) are distinguishable
    from near misses at the tolerance used above."""
    Xs, cross, graphs, W, Hs = make_problem(3)
    ref = reference_for(JCBSNMF, STRONG, Xs, cross, graphs)
    Wr, Hr, *_ = ref.run(W, Hs, 2)
    terms = ref.terms(Wr, Hr)
    F = sum(terms.values())
    assert all(abs(v) > 1e-2 * abs(F) for v in terms.values()), terms
    wrong_half = Ref(Xs, ref.A, ref.S, {pq: 2 * v for pq, v in ref.lam.items()}, ref.beta, ref.g1, ref.g2)
    Wx, _, *_ = wrong_half.run(W, Hs, 2)
    assert _rel(Wx, Wr) > 1e3 * RTOL


def test_reference_gradient_and_step_follow_the_spec():
    """Checks of the reference itself, independent of the package.

    §2.1: the analytic gradients match central finite differences of the §1.2
    objective. §2.4: the ratio step is h' = h − K⁻¹∇f with ∇f = ½∇F and
    K = diag(Ph/h) (up to the ε of §2.6).
    """
    Xs, cross, graphs, W, Hs = make_problem(5)
    ref = reference_for(JCBSNMF, STRONG, Xs, cross, graphs)
    rng = np.random.RandomState(0)
    h = 1e-6
    for I in range(3):
        G = ref.grad_H(W, Hs, I)
        for _ in range(4):
            i, j = rng.randint(Hs[I].shape[0]), rng.randint(Hs[I].shape[1])
            Hp = [H.copy() for H in Hs]
            Hm = [H.copy() for H in Hs]
            Hp[I][i, j] += h
            Hm[I][i, j] -= h
            fd = (ref.F(W, Hp) - ref.F(W, Hm)) / (2 * h)
            assert fd == pytest.approx(G[i, j], rel=1e-6, abs=1e-6 * np.abs(G).max())
    G = ref.grad_W(W, Hs)
    for _ in range(4):
        i, j = rng.randint(W.shape[0]), rng.randint(W.shape[1])
        Wp, Wm = W.copy(), W.copy()
        Wp[i, j] += h
        Wm[i, j] -= h
        fd = (ref.F(Wp, Hs) - ref.F(Wm, Hs)) / (2 * h)
        assert fd == pytest.approx(G[i, j], rel=1e-6, abs=1e-6 * np.abs(G).max())
    # the H_1 step as a scaled gradient step (W fixed: take the H part of one sweep)
    k = W.shape[1]
    H = Hs[0]
    P = W.T @ W @ H + ref.g2 * np.ones((k, k)) @ H + ref.beta[0] * H * ref.S[0].sum(axis=1)[None, :]
    step = H - (H / P) * 0.5 * ref.grad_H(W, Hs, 0)
    B = W.T @ Xs[0] + 0.5 * ref.C(0, Hs)
    ratio = H * (B + ref.beta[0] * H @ ref.S[0]) / P
    np.testing.assert_allclose(step, ratio, rtol=1e-12)


def test_reference_jnmf_is_sklearn_mu_on_the_concatenation():
    """§1.3 / §3 cross-check: with every penalty 0 the reference is scikit-learn's
    ``NMF(solver="mu")`` on ``hstack(Xs)`` from the same start."""
    from sklearn.decomposition import NMF

    Xs, _, _, W, Hs = make_problem(7)
    ref = Ref(Xs, {}, [None] * 3, 0.0, 0.0, 0.0, 0.0)
    Wr, Hr, *_ = ref.run(W, Hs, 30)
    sk = NMF(n_components=3, solver="mu", init="custom", tol=0, max_iter=30)
    Wsk = sk.fit_transform(np.hstack(Xs), W=W.copy(), H=np.hstack(Hs).copy())
    np.testing.assert_allclose(Wsk, Wr, rtol=1e-10)
    np.testing.assert_allclose(sk.components_, np.hstack(Hr), rtol=1e-10)


def test_priors_are_scaled_to_unit_spectral_norm_and_graph_diagonal_dropped():
    """Decision 2 (and §2.3 validation): rescaling A_IJ or S_I changes nothing, nor does a
    nonzero diagonal in S_I; the reference's normalised priors have spectral norm 1."""
    Xs, cross, graphs, W, Hs = make_problem(11)
    base = fit_package(JCBSNMF, STRONG, Xs, cross, graphs, W, Hs, 20)
    scaled = fit_package(JCBSNMF, STRONG, Xs, {pq: 7.3 * a for pq, a in cross.items()},
                         [3.1 * g for g in graphs], W, Hs, 20)
    diag = fit_package(JCBSNMF, STRONG, Xs, cross, [g + np.eye(len(g)) for g in graphs], W, Hs, 20)
    for other in (scaled, diag):
        np.testing.assert_allclose(other.basis_, base.basis_, rtol=RTOL)
        for Hp, Hq in zip(other.coefficients_, base.coefficients_):
            np.testing.assert_allclose(Hp, Hq, rtol=RTOL, atol=RTOL * np.abs(Hq).max())
    A, S = ref_priors(cross, graphs, 3)
    for M_ in [*A.values(), *S]:
        assert np.linalg.norm(M_, 2) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("scale", [1e-8, 1e-14])
def test_epsilon_is_added_to_every_denominator(scale):
    """§2.2 / §2.6: ε = float64 eps is added to the denominators. At data scales where the
    denominators are near or far below ε, the package still matches the reference."""
    Xs, cross, graphs, W, Hs = make_problem(13)
    Xs = [X * scale for X in Xs]
    W, Hs = W * np.sqrt(scale), [H * np.sqrt(scale) for H in Hs]
    params = dict(STRONG, basis_penalty=1e-3, sparsity=2e-3)
    ref = reference_for(JCBSNMF, params, Xs, cross, graphs)
    model = fit_package(JCBSNMF, params, Xs, cross, graphs, W, Hs, 2)
    Wr, Hr, *_ = ref.run(W, Hs, 2)
    np.testing.assert_allclose(model.basis_, Wr, rtol=RTOL)
    for Hp, Hq in zip(model.coefficients_, Hr):
        np.testing.assert_allclose(Hp, Hq, rtol=RTOL, atol=RTOL * np.abs(Hq).max())


@pytest.mark.parametrize("seed", range(4))
def test_objective_never_increases(seed):
    """§2.4 (monotone ratio rule, Gauss-Seidel) and §12 item 6: the reference's F after every
    sweep and the package's ``objective_`` trace never increase (tolerance 1e-12·|F|), and
    all entries stay ≥ 0, for β up to 1e3 and dense graphs."""
    rng = np.random.RandomState(100 + seed)
    Xs, cross, graphs, W, Hs = make_problem(100 + seed, density=[0.3, 0.9][seed % 2])
    lam = 10 ** rng.uniform(-2, 0.5)
    params = dict(cross_strength=lam, smoothness=list(10 ** rng.uniform(-1, 3, 3)),
                  basis_penalty=10 ** rng.uniform(-3, 1), sparsity=max(lam, 10 ** rng.uniform(-2, 1)))
    ref = reference_for(JCBSNMF, params, Xs, cross, graphs)
    Wr, Hr, every, _, _ = ref.run(W, Hs, 150)
    model = fit_package(JCBSNMF, params, Xs, cross, graphs, W, Hs, 150)
    for trace in (every, np.asarray(model.objective_)):
        assert np.all(np.diff(trace) <= 1e-12 * np.abs(trace[:-1]))
    assert (model.basis_ >= 0).all() and all((H >= 0).all() for H in model.coefficients_)
    np.testing.assert_allclose(model.basis_, Wr, rtol=1e-9)


@pytest.mark.parametrize("tol", [1e-2, 1e-4])
def test_stopping_rule(tol):
    """§2.3: F is checked every 10 sweeps and the run stops at the first check where
    (F_prev − F_t) ≤ tol·|F_0|; the package stops at the same sweep with the same trace."""
    Xs, cross, graphs, W, Hs = make_problem(3)
    ref = reference_for(JCBSNMF, STRONG, Xs, cross, graphs)
    Wr, _, _, checked, stop = ref.run(W, Hs, 1000, tol=tol)
    model = fit_package(JCBSNMF, STRONG, Xs, cross, graphs, W, Hs, 1000, tol=tol)
    assert stop < 1000
    assert model.n_iter_ == stop and model.converged_
    np.testing.assert_allclose(model.objective_, checked, rtol=RTOL)
    np.testing.assert_allclose(model.basis_, Wr, rtol=RTOL)
