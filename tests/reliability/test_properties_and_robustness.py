"""Property tests, numerical robustness, persistence and determinism of the estimators."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.exceptions import ConvergenceWarning

import imaging_genetics
from imaging_genetics import cca, nmf
from imaging_genetics.base import IncompatibleModelFileError

from _data import cca_data, nmf_data

CCA = [cca.SCCA, cca.TCCA, cca.JCBSCCA, cca.MTSCCA, cca.MTGSCCA, cca.MTS2CCA]
NMF = [nmf.JNMF, nmf.JSNMNMF, nmf.JCBSNMF]
FAST = settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
DOCUMENTED = (ValueError, TypeError)


def _finite_cca(m, p, qs):
    assert m.x_weights_.shape[0] == p and np.isfinite(m.x_weights_).all()
    assert [v.shape[0] for v in m.y_weights_] == list(qs)
    assert all(np.isfinite(v).all() for v in m.y_weights_)
    assert np.isfinite(m.canonical_correlations_).all()


@st.composite
def cca_inputs(draw):
    n = draw(st.integers(3, 12))
    p = draw(st.integers(1, 15))
    q = draw(st.integers(1, 5))
    K = draw(st.integers(1, 2))
    vals = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)
    X = draw(arrays(np.float64, (n, p), elements=vals))
    Ys = [draw(arrays(np.float64, (n, q), elements=vals)) for _ in range(K)]
    return X, Ys


@pytest.mark.parametrize("cls", CCA)
@FAST
@given(data=cca_inputs(), pen=st.sampled_from([1e-8, 0.1, 1e4]))
def test_cca_fit_is_finite_or_a_documented_error(cls, data, pen):
    X, Ys = data
    kw = {name: pen for name in cls._penalty_params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            m = cls(max_iter=15, **kw).fit(X, Ys)
        except DOCUMENTED as exc:
            assert str(exc).split(":")[0] in {"X", "Ys"} or "Ys[" in str(exc) or "constant" in str(exc), exc
            return
    _finite_cca(m, X.shape[1], [Y.shape[1] for Y in Ys])


@st.composite
def nmf_inputs(draw):
    n = draw(st.integers(2, 10))
    sizes = draw(st.lists(st.integers(1, 8), min_size=1, max_size=3))
    vals = st.floats(0, 1e3, allow_nan=False, allow_infinity=False, width=64)
    return [draw(arrays(np.float64, (n, p), elements=vals)) for p in sizes]


@pytest.mark.parametrize("cls", NMF)
@FAST
@given(Xs=nmf_inputs(), k=st.integers(1, 3), pen=st.sampled_from([1e-8, 1.0, 1e4]))
def test_nmf_fit_is_finite_or_a_documented_error(cls, Xs, k, pen):
    kw = {p: pen for p in ("cross_strength", "smoothness", "basis_penalty", "sparsity") if p in cls().get_params()}
    cross = {(0, 1): np.ones((Xs[0].shape[1], Xs[1].shape[1]))} if len(Xs) > 1 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            m = cls(n_components=k, max_iter=20, n_restarts=2, random_state=0, **kw).fit(Xs, cross_adjacency=cross)
        except DOCUMENTED as exc:
            assert any(w in str(exc) for w in ("n_components", "every entry is zero")), exc
            return
        except FloatingPointError as exc:  # documented: every restart diverged
            assert "diverged" in str(exc)
            return
    assert m.basis_.shape == (Xs[0].shape[0], k) and np.isfinite(m.basis_).all() and (m.basis_ >= 0).all()
    assert [H.shape for H in m.coefficients_] == [(k, X.shape[1]) for X in Xs]
    assert all(np.isfinite(H).all() and (H >= 0).all() for H in m.coefficients_)
    assert np.isfinite(m.objective_).all()


@FAST
@given(frame=arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 4)),
                    elements=st.one_of(st.just(np.nan), st.floats(-1e6, 1e6, width=64))),
       ext=st.sampled_from([".csv", ".tsv", ".parquet", ".csv.gz"]))
def test_table_round_trip(tmp_path_factory, frame, ext):
    from imaging_genetics.io import read_table, write_table

    df = pd.DataFrame(frame, index=pd.Index([f"0{i}" for i in range(frame.shape[0])], name="id"),
                      columns=[f"c {j}" for j in range(frame.shape[1])])
    path = tmp_path_factory.mktemp("t") / f"x{ext}"
    if ext == ".csv.gz":
        df.to_csv(path)
    else:
        write_table(df, path)
    back = read_table(path, id_column="id", numeric=True)
    assert list(back.index) == list(df.index) and list(back.columns) == list(df.columns)
    np.testing.assert_array_equal(back.to_numpy(dtype=float), df.to_numpy())


@FAST
@given(G=arrays(np.float64, st.tuples(st.integers(1, 9), st.integers(1, 6)), elements=st.sampled_from([0.0, 1.0, 2.0, np.nan])))
def test_plink_round_trip(tmp_path_factory, G):
    from imaging_genetics.io import read_plink, write_plink

    frame = pd.DataFrame(G, index=[f"s{i}" for i in range(G.shape[0])], columns=[f"rs{j}" for j in range(G.shape[1])])
    prefix = tmp_path_factory.mktemp("p") / "g"
    write_plink(prefix, frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an all-2 last sample is a legitimate draw here
        back = read_plink(prefix)
    np.testing.assert_array_equal(back.to_numpy(), G)
    assert list(back.index) == list(frame.index) and list(back.columns) == list(frame.columns)


# --------------------------------------------------------------------------- robustness
@pytest.mark.parametrize("cls", CCA)
def test_cca_near_singular_and_zero_variance(cls):
    X, Ys = cca_data(n=12, p=4)
    rng = np.random.default_rng(1)
    Xw = np.hstack([X, X[:, :2], X[:, :2], rng.standard_normal((12, 60)), np.full((12, 1), 7.0)])  # p >> n, LD, constant
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match="constant columns"):
            m = cls(max_iter=30).fit(Xw, Ys)
    _finite_cca(m, Xw.shape[1], [4, 4])
    assert np.all(m.x_weights_[-1] == 0)
    for pen in (1e-8, 1e4):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _finite_cca(cls(max_iter=30, **{k: pen for k in cls._penalty_params}).fit(Xw, Ys), Xw.shape[1], [4, 4])


def test_cca_warns_when_it_stops_early():
    X, Ys = cca_data()
    with pytest.warns(ConvergenceWarning, match="did not converge in max_iter=2"):
        cca.MTS2CCA(max_iter=2).fit(X, Ys)


def test_cca_is_scale_invariant_for_small_units():
    X, Ys = cca_data()
    a = cca.SCCA(max_iter=30).fit(X, Ys)
    b = cca.SCCA(max_iter=30).fit(X * 1e-12, [Y * 1e-12 for Y in Ys])
    np.testing.assert_allclose(b.x_weights_, a.x_weights_, atol=1e-9)


@pytest.mark.parametrize("cls", NMF)
def test_nmf_all_zero_rows_and_columns(cls):
    Xs = nmf_data()
    Xs[0][3] = 0
    Xs[1][3] = 0
    Xs[1][:, 2] = 0
    with pytest.warns(ConvergenceWarning):
        m = cls(n_components=2, max_iter=3, n_restarts=2, random_state=0).fit(Xs)
    assert np.isfinite(m.basis_).all() and all(np.isfinite(H).all() for H in m.coefficients_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = cls(n_components=2, max_iter=200, n_restarts=2, random_state=0).fit(Xs)
    assert np.allclose(m.basis_[3], 0, atol=1e-6) and np.allclose(m.coefficients_[1][:, 2], 0, atol=1e-6)


# --------------------------------------------------------------------------- persistence
def _fitted(cls):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if cls in CCA:
            X, Ys = cca_data()
            return cls(max_iter=10, n_components=2 if cls is cca.MTSCCA else 1).fit(X, Ys)
        return cls(n_components=2, max_iter=10, n_restarts=2, random_state=0).fit(
            nmf_data(), cross_adjacency={(0, 1): np.ones((5, 7))}, graphs=[np.ones((5, 5)), None])


def _same(a, b):
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b or (a != a and b != b)


@pytest.mark.parametrize("cls", CCA + NMF)
def test_round_trip_is_exact_and_damage_is_reported(cls, tmp_path):
    model = _fitted(cls)
    path = model.save(tmp_path / "m.npz")
    back = imaging_genetics.load(path)
    assert type(back) is cls and back.get_params() == model.get_params()
    state = {k: v for k, v in vars(model).items() if k.endswith("_") and not k.startswith("_")}
    assert state and all(_same(v, getattr(back, k)) for k, v in state.items())
    raw = path.read_bytes()
    for cut in (len(raw) // 3, len(raw) - 10):
        path.write_bytes(raw[:cut])
        with pytest.raises(IncompatibleModelFileError, match=r"m\.npz"):
            imaging_genetics.load(path)
    with np.load(_resave(tmp_path, raw)) as f:
        arrays_ = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays_["__metadata__"]))
    meta["format_version"] += 1
    arrays_["__metadata__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays_)
    with pytest.raises(IncompatibleModelFileError, match=r"format 2 .*Upgrade imaging-genetics"):
        imaging_genetics.load(path)


def _resave(tmp_path, raw):
    path = tmp_path / "copy.npz"
    path.write_bytes(raw)
    return path


# --------------------------------------------------------------------------- determinism
def test_nmf_restarts_identical_across_runs_and_n_jobs():
    Xs = nmf_data(n=16, sizes=(6, 9))
    fits = []
    for n_jobs in (1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits.append(nmf.JCBSNMF(n_components=2, n_restarts=4, max_iter=20, random_state=3, n_jobs=n_jobs).fit(
                Xs, cross_adjacency={(0, 1): np.ones((6, 9))}))
    for m in fits[1:]:
        assert np.array_equal(m.basis_, fits[0].basis_)
        assert all(np.array_equal(a, b) for a, b in zip(m.coefficients_, fits[0].coefficients_))
        assert np.array_equal(m.restart_objectives_, fits[0].restart_objectives_)


def test_inference_identical_across_runs_and_n_jobs():
    from imaging_genetics.inference import extract_modules, module_significance, nested_cv, permutation_test, \
        stability_selection

    X, Ys = cca_data(n=30, p=5, qs=(3, 3))
    est = cca.SCCA(max_iter=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = []
        for n_jobs in (1, 1, 2):
            cv = nested_cv(est, X, Ys, {"sparsity_x": [0.01, 0.1]}, outer_cv=2, inner_cv=2, random_state=5,
                           n_jobs=n_jobs)
            perm = permutation_test(est, X, Ys, n_permutations=4, statistic="insample", random_state=5, n_jobs=n_jobs)
            stab = stability_selection(est, X, Ys, n_subsamples=3, random_state=5, n_jobs=n_jobs)
            runs.append((cv.x_weights, cv.table["test_ccc"].to_numpy(), perm["p_value"].to_numpy(),
                         np.asarray(perm.attrs["null"]), stab.x_frequency))
        Xs = nmf_data(n=16)
        model = nmf.JNMF(n_components=2, max_iter=30, random_state=0).fit(Xs)
    module = extract_modules(model, threshold=0.5)[0]
    ps = [module_significance(module, Xs, n_permutations=20, random_state=7) for _ in range(2)]
    assert ps[0] == ps[1]
    for run in runs[1:]:
        for a, b in zip(run, runs[0]):
            assert np.array_equal(a, b)
