"""Estimator behaviour of JNMF / JSNMNMF / JCBSNMF: validation, restarts, persistence."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

import imaging_genetics
from imaging_genetics.nmf import JCBSNMF, JNMF, JSNMNMF, BoundednessWarning
from nmf_testdata import make_problem

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _fit(model, Xs, cross=None, graphs=None):
    kw = {}
    if not isinstance(model, JNMF):
        kw["cross_adjacency"] = cross
    if isinstance(model, JCBSNMF):
        kw["graphs"] = graphs
    return model.fit(Xs, **kw)


# -- bad input ---------------------------------------------------------------

def test_negative_entries_error_names_modality_and_count(problem):
    Xs, cross, graphs = problem
    Xs[1][0, :3] = -1.0
    with pytest.raises(ValueError, match=r"Xs\[1\].*3 negative entries.*NonnegativeScaler"):
        JCBSNMF(3).fit(Xs, cross_adjacency=cross, graphs=graphs)


def test_mismatched_rows(problem):
    Xs, _, _ = problem
    Xs[2] = Xs[2][:-1]
    with pytest.raises(ValueError, match="same samples"):
        JNMF(3).fit(Xs)


def test_wrong_adjacency_shapes(problem):
    Xs, cross, graphs = problem
    bad = dict(cross)
    bad[(0, 1)] = sp.random(20, 34, density=0.1, random_state=0)
    with pytest.raises(ValueError, match=r"cross_adjacency.*expected shape \(20, 35\)"):
        JSNMNMF(3).fit(Xs, cross_adjacency=bad)
    g = list(graphs)
    g[2] = np.ones((24, 24))
    with pytest.raises(ValueError, match=r"graphs\[2\].*expected shape \(25, 25\)"):
        JCBSNMF(3).fit(Xs, cross_adjacency=cross, graphs=g)
    with pytest.raises(ValueError, match="3 entries"):
        JCBSNMF(3).fit(Xs, graphs=graphs[:2])
    with pytest.raises(ValueError, match="two different modalities"):
        JSNMNMF(3).fit(Xs, cross_adjacency={(0, 3): np.ones((20, 5))})


def test_transposed_cross_key_is_accepted(problem):
    Xs, cross, _ = problem
    a = JSNMNMF(3, n_restarts=1, max_iter=20, random_state=0).fit(Xs, cross_adjacency=cross)
    flipped = {(J, I): sp.csr_matrix(A).T for (I, J), A in cross.items()}
    b = JSNMNMF(3, n_restarts=1, max_iter=20, random_state=0).fit(Xs, cross_adjacency=flipped)
    np.testing.assert_allclose(a.basis_, b.basis_, rtol=1e-12)


def test_labelled_priors_are_taken_by_label(problem):
    """Priors given as labelled tables link the features they name, whatever their order;
    a table that does not name the features is refused instead of read by position."""
    import pandas as pd

    Xs, cross, graphs = problem
    names = [[f"m{I}_f{j}" for j in range(X.shape[1])] for I, X in enumerate(Xs)]
    Xf = [pd.DataFrame(X, columns=nm) for X, nm in zip(Xs, names)]
    rng = np.random.RandomState(1)

    def shuffled(A, rows, cols):
        r = rng.permutation(len(rows))
        c = r if rows is cols else rng.permutation(len(cols))  # a graph stays symmetric
        return pd.DataFrame(sp.csr_matrix(A).toarray(), index=rows, columns=cols).iloc[r, c]

    cross_f = {(I, J): shuffled(A, names[I], names[J]) for (I, J), A in cross.items()}
    # a graph table covering more features than the data: the others are left out
    wider = pd.DataFrame(np.zeros((Xs[0].shape[1] + 2,) * 2), index=names[0] + ["x1", "x2"],
                         columns=names[0] + ["x1", "x2"])
    wider.iloc[:-2, :-2] = sp.csr_matrix(graphs[0]).toarray()
    graphs_f = [wider.iloc[::-1, ::-1]] + [shuffled(S, nm, nm) for S, nm in zip(graphs[1:], names[1:])]
    kw = dict(n_components=3, n_restarts=1, max_iter=20, random_state=0)
    a = JCBSNMF(**kw).fit(Xs, cross_adjacency=cross, graphs=graphs)
    b = JCBSNMF(**kw).fit(Xf, cross_adjacency=cross_f, graphs=graphs_f)
    np.testing.assert_array_equal(a.basis_, b.basis_)
    # read by position, the shuffled tables are other priors
    c = JCBSNMF(**kw).fit(Xs, cross_adjacency={key: A.to_numpy() for key, A in cross_f.items()}, graphs=graphs)
    # (the default cross_strength is small: the fits differ by about 1e-7 relative, not 1e-16)
    assert np.abs(a.basis_ - c.basis_).max() > 1e-9 * np.abs(a.basis_).max()
    bad = dict(cross_f)
    bad[(0, 2)] = bad[(0, 2)].rename(columns={names[2][4]: "gene_x"})
    with pytest.raises(ValueError, match=r"cross_adjacency\[\(0, 2\)\]: no entry in its column labels for 1 of "
                                         r"the features it links, e\.g\. \['m2_f4'\]; label its columns"):
        JCBSNMF(**kw).fit(Xf, cross_adjacency=bad, graphs=graphs_f)


def test_too_many_components(problem):
    Xs, _, _ = problem
    with pytest.raises(ValueError, match=r"n_components=21.*Xs\[0\]"):
        JNMF(21).fit(Xs)  # p_0 = 20 < 21 <= n = 30


def test_bad_parameters(problem):
    Xs, cross, graphs = problem
    with pytest.raises(ValueError, match="sparsity"):
        JSNMNMF(3, sparsity=-1).fit(Xs, cross_adjacency=cross)
    with pytest.raises(ValueError, match="init"):
        JNMF(3, init="svd").fit(Xs)
    with pytest.raises(ValueError, match="smoothness"):
        JCBSNMF(3, smoothness=[0.1, 0.1]).fit(Xs, graphs=graphs)
    with pytest.raises(ValueError, match="every entry is zero"):
        JNMF(2).fit([np.zeros((5, 4))])
    for dtype in ("float16", np.float32, None):
        with pytest.raises(ValueError, match="dtype must be 'float64' or 'float32'"):
            JNMF(3, dtype=dtype).fit(Xs)


def test_parameters_checked_where_no_prior_uses_them_and_mistyped_pairs(problem):
    Xs, cross, graphs = problem
    with pytest.raises(ValueError, match="cross_strength"):
        JSNMNMF(3, cross_strength=-1.0).fit(Xs)
    with pytest.raises(ValueError, match="smoothness"):
        JCBSNMF(3, smoothness=-1.0).fit(Xs, cross_adjacency=cross)
    # a pair without a prior would have left the real pair at lambda = 0
    pairs = sorted(cross)
    with pytest.raises(ValueError, match=r"cross_strength: pair\(s\) \[\(0, 7\)\] have no cross_adjacency"):
        JSNMNMF(3, cross_strength={(0, 7): 0.5}, max_iter=2).fit(Xs, cross_adjacency=cross)
    m = JSNMNMF(3, cross_strength={pairs[0]: 0.5}, max_iter=2, n_restarts=1, random_state=0)
    m.fit(Xs, cross_adjacency=cross)  # a pair left out of the dict gets 0


def test_custom_start_must_be_finite_and_alive(problem):
    Xs, _, _ = problem
    n, k = Xs[0].shape[0], 3
    W = np.ones((n, k))
    Hs = [np.ones((k, X.shape[1])) for X in Xs]
    model = JNMF(k, init="custom", n_restarts=1, max_iter=5)
    bad = W.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"init_basis: 1 NaN or infinite"):
        model.fit(Xs, init_basis=bad, init_coefficients=Hs)
    bad = W.copy()
    bad[:, 1] = 0
    with pytest.raises(ValueError, match=r"component\(s\) \[1\] start all zero"):
        model.fit(Xs, init_basis=bad, init_coefficients=Hs)
    dead_row = [H.copy() for H in Hs]
    for H in dead_row:
        H[2] = 0
    with pytest.raises(ValueError, match=r"component\(s\) \[2\] start all zero"):
        model.fit(Xs, init_basis=W, init_coefficients=dead_row)
    some = [H.copy() for H in Hs]
    some[0][0, :2] = 0
    with pytest.warns(UserWarning, match="2 zero entries .* stay zero"):
        model.fit(Xs, init_basis=W, init_coefficients=some)
    assert np.all(model.coefficients_[0][0, :2] == 0)
    with pytest.warns(UserWarning, match="used only with init='custom'"):
        JNMF(k, n_restarts=1, max_iter=5).fit(Xs, init_basis=W, init_coefficients=Hs)


def test_overflow_is_not_called_unboundedness(problem):
    Xs, _, _ = problem
    with pytest.raises(FloatingPointError, match="products overflowed .*rescale the data"):
        JNMF(3, random_state=0, n_restarts=1).fit([X * 1e155 for X in Xs])


def test_boundedness_warning():
    Xs, cross, _ = make_problem(seed=1)
    with pytest.warns(BoundednessWarning, match="unbounded"):
        JSNMNMF(3, cross_strength=1e-3, sparsity=1e-4, max_iter=5, n_restarts=1).fit(Xs, cross_adjacency=cross)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BoundednessWarning)
        JSNMNMF(3, cross_strength=1e-3, sparsity=1e-3, max_iter=5, n_restarts=1).fit(Xs, cross_adjacency=cross)


def test_priors_are_normalised_to_unit_spectral_norm(problem):
    Xs, cross, graphs = problem
    scaled_c = {key: 7.0 * sp.csr_matrix(A) for key, A in cross.items()}
    scaled_g = [13.0 * sp.csr_matrix(S) for S in graphs]
    kw = dict(n_components=3, n_restarts=1, max_iter=30, random_state=0, smoothness=0.5, cross_strength=0.5,
              sparsity=1.0)
    a = JCBSNMF(**kw).fit(Xs, cross_adjacency=cross, graphs=graphs)
    b = JCBSNMF(**kw).fit(Xs, cross_adjacency=scaled_c, graphs=scaled_g)
    np.testing.assert_allclose(a.objective_, b.objective_, rtol=1e-9)


# -- modalities, models ------------------------------------------------------

@pytest.mark.parametrize("M", [1, 2, 4])
def test_any_number_of_modalities(M):
    sizes = (20, 35, 25, 15)[:M]
    Xs, cross, graphs = make_problem(seed=M, sizes=sizes)
    m = JCBSNMF(3, n_restarts=2, max_iter=50, random_state=0, sparsity=0.1).fit(
        Xs, cross_adjacency=cross, graphs=graphs)
    assert m.basis_.shape == (30, 3)
    assert [H.shape for H in m.coefficients_] == [(3, p) for p in sizes]
    assert np.all(np.diff(m.objective_) <= 1e-12 * np.abs(m.objective_[:-1]))


def test_models_are_nested_configurations(problem):
    # with zero penalties the three models are the same computation
    Xs, cross, graphs = problem
    kw = dict(n_components=3, n_restarts=2, max_iter=40, random_state=0)
    a = JNMF(**kw).fit(Xs)
    b = JSNMNMF(cross_strength=0, basis_penalty=0, sparsity=0, **kw).fit(Xs, cross_adjacency=cross)
    c = JCBSNMF(cross_strength=0, smoothness=0, basis_penalty=0, sparsity=0, **kw).fit(
        Xs, cross_adjacency=cross, graphs=graphs)
    np.testing.assert_array_equal(a.basis_, b.basis_)
    np.testing.assert_array_equal(a.basis_, c.basis_)
    # and the penalties change the solution when they are on
    d = JCBSNMF(cross_strength=0.5, smoothness=1.0, sparsity=1.0, **kw).fit(Xs, cross_adjacency=cross, graphs=graphs)
    assert not np.allclose(a.basis_, d.basis_)


def test_restarts_pick_the_best(problem):
    Xs, cross, graphs = problem
    m = JCBSNMF(3, n_restarts=6, max_iter=40, random_state=3).fit(Xs, cross_adjacency=cross, graphs=graphs)
    assert m.restart_objectives_.shape == (6,)
    assert m.best_restart_ == int(np.argmin(m.restart_objectives_))
    assert m.objective_[-1] == m.restart_objectives_.min()
    assert np.unique(m.restart_objectives_).size > 1  # restarts really differ
    # one restart with the same seed sequence reproduces restart 0, which is not better
    one = JCBSNMF(3, n_restarts=1, max_iter=40, random_state=3).fit(Xs, cross_adjacency=cross, graphs=graphs)
    assert np.isclose(one.restart_objectives_[0], m.restart_objectives_[0], rtol=1e-12)
    assert m.objective_[-1] <= one.objective_[-1]


def test_determinism_and_n_jobs(problem):
    Xs, cross, graphs = problem
    kw = dict(n_components=3, n_restarts=10, max_iter=30, random_state=11)
    a = JCBSNMF(**kw).fit(Xs, cross_adjacency=cross, graphs=graphs)
    b = JCBSNMF(**kw).fit(Xs, cross_adjacency=cross, graphs=graphs)
    c = JCBSNMF(n_jobs=2, **kw).fit(Xs, cross_adjacency=cross, graphs=graphs)
    for other in (b, c):
        np.testing.assert_array_equal(a.basis_, other.basis_)
        np.testing.assert_array_equal(a.restart_objectives_, other.restart_objectives_)
        for H1, H2 in zip(a.coefficients_, other.coefficients_):
            np.testing.assert_array_equal(H1, H2)
    d = JCBSNMF(**{**kw, "random_state": 12}).fit(Xs, cross_adjacency=cross, graphs=graphs)
    assert not np.array_equal(a.restart_objectives_, d.restart_objectives_)


def test_nndsvda_init_is_deterministic_and_not_worse_start(problem):
    Xs, _, _ = problem
    a = JNMF(4, init="nndsvda", n_restarts=1, max_iter=10).fit(Xs)
    b = JNMF(4, init="nndsvda", n_restarts=1, max_iter=10).fit(Xs)
    r = JNMF(4, init="random", n_restarts=1, max_iter=10, random_state=0).fit(Xs)
    np.testing.assert_array_equal(a.basis_, b.basis_)
    assert a.objective_[0] < r.objective_[0]  # SVD-based start fits better than random


def test_stopping_rule(problem):
    Xs, _, _ = problem
    loose = JNMF(3, n_restarts=1, max_iter=2000, tol=1e-2, random_state=0).fit(Xs)
    tight = JNMF(3, n_restarts=1, max_iter=2000, tol=1e-7, random_state=0).fit(Xs)
    assert loose.converged_ and loose.n_iter_ % 10 == 0
    assert loose.n_iter_ < tight.n_iter_
    assert tight.objective_[-1] <= loose.objective_[-1]
    t = loose.objective_
    assert (t[-2] - t[-1]) < 1e-2 * abs(t[0]) <= (t[-3] - t[-2])


# -- sklearn conventions, persistence ----------------------------------------

def test_get_params_clone_and_untouched_init():
    m = JCBSNMF(5, cross_strength={(0, 1): 0.2}, smoothness=[0.1, 0.2], random_state=4)
    params = m.get_params()
    for name in ("n_components", "cross_strength", "smoothness", "basis_penalty", "sparsity",
                 "n_restarts", "max_iter", "tol", "init", "random_state", "n_jobs"):
        assert name in params
    assert params["cross_strength"] == {(0, 1): 0.2}
    c = clone(m)
    assert c.get_params() == params and c is not m
    assert set(JNMF().get_params()) == {"n_components", "n_restarts", "max_iter", "tol", "init",
                                        "random_state", "n_jobs", "dtype"}
    assert "smoothness" not in JSNMNMF().get_params()
    bad = JNMF(n_components="x")  # validation happens in fit, not __init__
    assert bad.n_components == "x"


def test_save_load_round_trip(tmp_path, problem):
    Xs, cross, graphs = problem
    m = JCBSNMF(3, n_restarts=2, max_iter=20, random_state=0, cross_strength={(0, 2): 0.3},
                sparsity=0.2).fit(
        Xs, cross_adjacency=cross, graphs=graphs)
    path = m.save(tmp_path / "model")
    back = imaging_genetics.load(path)
    assert type(back) is JCBSNMF and back.get_params() == m.get_params()
    np.testing.assert_array_equal(back.basis_, m.basis_)
    for H1, H2 in zip(back.coefficients_, m.coefficients_):
        np.testing.assert_array_equal(H1, H2)
    np.testing.assert_array_equal(back.objective_, m.objective_)
    np.testing.assert_array_equal(back.restart_objectives_, m.restart_objectives_)
    assert back.n_iter_ == m.n_iter_ and back.reconstruction_err_ == m.reconstruction_err_


def test_float32_path_follows_float64(tmp_path, problem):
    # single-precision iterations from the same start: float32 factors, a trace that
    # never rises beyond float32 round-off, the float64 fit's objective and factors
    # to within single-precision accuracy, and a save/load round trip
    Xs, cross, graphs = problem
    kw = dict(n_components=3, n_restarts=2, max_iter=150, tol=0, random_state=2, cross_strength=0.2,
              smoothness=0.5, sparsity=0.2)
    ref = _fit(JCBSNMF(**kw), Xs, cross, graphs)
    m = _fit(JCBSNMF(dtype="float32", **kw), Xs, cross, graphs)
    assert m.basis_.dtype == np.float32 and all(H.dtype == np.float32 for H in m.coefficients_)
    assert m.objective_.dtype == np.float64
    assert np.all(np.diff(m.objective_) <= 1e-6 * np.abs(m.objective_[:-1]))
    assert m.best_restart_ == ref.best_restart_
    np.testing.assert_allclose(m.restart_objectives_, ref.restart_objectives_, rtol=1e-5)
    np.testing.assert_allclose(m.basis_, ref.basis_, rtol=1e-3, atol=1e-3 * np.abs(ref.basis_).max())
    for H32, H64 in zip(m.coefficients_, ref.coefficients_):
        np.testing.assert_allclose(H32, H64, rtol=1e-3, atol=1e-3 * np.abs(H64).max())
    back = imaging_genetics.load(m.save(tmp_path / "model32"))
    assert back.get_params()["dtype"] == "float32"
    np.testing.assert_array_equal(back.basis_, m.basis_)


def test_reconstruction_error_attribute(problem):
    Xs, _, _ = problem
    m = JNMF(3, n_restarts=1, max_iter=50, random_state=0).fit(Xs)
    direct = np.sqrt(sum(np.linalg.norm(X - R) ** 2 for X, R in zip(Xs, m.reconstruct())))
    assert np.isclose(m.reconstruction_err_, direct, rtol=1e-12)
    assert np.isclose(m.objective_[-1], direct**2, rtol=1e-12)  # JNMF: F is the fit term


# -- planted co-modules ------------------------------------------------------

@pytest.mark.parametrize("cls", [JNMF, JCBSNMF])
def test_planted_comodules_are_recovered(sim, cls):
    from imaging_genetics.inference.modules import best_match_jaccard, extract_modules

    Xs, truth = sim.joint_nmf_data(60, (80, 50, 70), 4, noise_level=20.0, random_state=0)
    m = _fit(cls(4, n_restarts=3, max_iter=300, random_state=0), Xs, truth["cross_adjacency"], truth["graphs"])
    score = best_match_jaccard(extract_modules(m), truth["modules"]).mean()
    assert score >= 0.7
    # and a rank-matched fit of pure noise does not find them
    noise = [np.random.RandomState(1).permutation(X.ravel()).reshape(X.shape) for X in Xs]
    m0 = JNMF(4, n_restarts=1, max_iter=100, random_state=0).fit(noise)
    assert best_match_jaccard(extract_modules(m0), truth["modules"]).mean() < 0.3


def test_unbounded_objective_diverges_loudly():
    # gamma2 = 0 with a strong cross term: F is unbounded below (spec §2.5)
    Xs, cross, _ = make_problem(seed=1, dense=True)
    model = JSNMNMF(3, cross_strength=50.0, sparsity=0.0, max_iter=2000, n_restarts=2, random_state=0)
    with pytest.warns(BoundednessWarning), pytest.raises(FloatingPointError, match="unbounded"):
        model.fit(Xs, cross_adjacency=cross)


def test_zero_components_are_reported(problem):
    Xs, cross, graphs = problem
    with pytest.warns(UserWarning, match=r"component\(s\) \[[0-9, ]+\] of 3 came out zero"):
        JCBSNMF(3, random_state=0, n_restarts=1, max_iter=50).fit([X * 1e-8 for X in Xs], cross_adjacency=cross,
                                                                   graphs=graphs)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        JCBSNMF(3, random_state=0, n_restarts=1, max_iter=50).fit(Xs, cross_adjacency=cross, graphs=graphs)
    assert not [w for w in seen if "came out zero" in str(w.message)]


def test_labelled_tables_keep_their_column_names(problem, tmp_path):
    """A fit on labelled tables keeps each modality's column labels; the reconstruction
    measures refuse tables whose columns come in another order (they would pair each
    column with another feature's H)."""
    import pandas as pd

    from imaging_genetics.inference import reconstruction_correlation, reconstruction_errors

    Xs, cross, graphs = problem
    names = [[f"m{I}_f{j}" for j in range(X.shape[1])] for I, X in enumerate(Xs)]
    Xf = [pd.DataFrame(X, columns=nm) for X, nm in zip(Xs, names)]
    m = JNMF(3, n_restarts=1, max_iter=20, random_state=0).fit([Xf[0], Xs[1], Xf[2]])
    assert [None if f is None else list(f) for f in m.feature_names_in_] == [names[0], None, names[2]]
    expected = reconstruction_correlation(m, Xs)
    np.testing.assert_array_equal(reconstruction_correlation(m, Xf), expected)
    shuffled = [Xf[0], Xf[1], Xf[2].iloc[:, ::-1]]
    for measure in (reconstruction_correlation, reconstruction_errors):
        with pytest.raises(ValueError, match=r"Xs\[2\] columns differ from those seen in fit \(same names in a "
                                             r"different order\); select them as Xs\[2\]\[model\.feature_names_in_\[2\]\]"):
            measure(m, shuffled)
    m.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="Xs\\[2\\] columns differ"):
        reconstruction_correlation(imaging_genetics.load(tmp_path / "m.npz"), shuffled)
    m.fit(Xs)
    assert not hasattr(m, "feature_names_in_")
