
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from imaging_genetics.inference import cross_validate_cca, nested_cv
from imaging_genetics.inference._parallel import ResultStore, derive_seed, run_tasks
from imaging_genetics.inference.cv import make_folds
from imaging_genetics.inference.metrics import canonical_correlations
from imaging_genetics.networks import correlation_graph

from _dask_cluster import on_local_dask_cluster
from _toy_cca import RidgeCCA, toy_data

GRID = {"reg": [0.1, 10.0], "smoothness_x": [0.0, 1.0]}
DET = ["fold", "task", "train_ccc", "test_ccc", "inner_score", "param_reg", "param_smoothness_x"]


def _nested(**kw):
    X, Ys = toy_data(n=40)
    return nested_cv(RidgeCCA(), X, Ys, GRID, outer_cv=3, inner_cv=3, random_state=7, **kw)


def test_nested_cv_table_and_summary():
    res = _nested()
    t = res.table
    assert len(t) == 3 * 2
    assert set(DET) <= set(t.columns)
    assert {"fit_time_s", "peak_memory_mb", "fit_memory_mb"} <= set(t.columns)
    assert res.x_weights.shape == (3, 8, 2)
    assert [v.shape for v in res.y_weights] == [(3, 5), (3, 6)]
    s = res.summary()
    assert list(s["task"]) == [0, 1]
    # the strong task generalises, the null task does not
    assert s.loc[0, "test_ccc_mean"] > 0.5 > abs(s.loc[1, "test_ccc_mean"])
    assert len(res.inner_table) == 3 * 4 * 3
    # chosen parameters maximise the mean inner score
    for o in range(3):
        sub = res.inner_table[res.inner_table.fold == o].groupby("grid_index")["score"].mean()
        assert t[t.fold == o]["inner_score"].iloc[0] == pytest.approx(sub.max())
        # best_index is the chosen grid point's position, and names the chosen parameters
        assert sub.idxmax() == res.best_index[o]
        points = res.inner_table[(res.inner_table.fold == o) & (res.inner_table.grid_index == res.best_index[o])]
        assert {k: points[f"param_{k}"].iloc[0] for k in GRID} == res.best_params[o]


def test_nested_cv_reproducible_and_njobs_identical():
    a = _nested(n_jobs=1)
    b = _nested(n_jobs=1)
    c = _nested(n_jobs=2)
    pd.testing.assert_frame_equal(a.table[DET], b.table[DET])
    pd.testing.assert_frame_equal(a.table[DET], c.table[DET])
    pd.testing.assert_frame_equal(a.inner_table, c.inner_table)
    np.testing.assert_array_equal(a.x_weights, c.x_weights)
    for va, vc in zip(a.y_weights, c.y_weights):
        np.testing.assert_array_equal(va, vc)
    d = nested_cv(RidgeCCA(), *toy_data(n=40), GRID, outer_cv=3, inner_cv=3, random_state=8)
    assert not np.array_equal(a.table["test_ccc"], d.table["test_ccc"])


def test_no_leakage_prior_and_rows():
    """Each fit sees only training rows; the prior comes from them only, and using
    all rows for the prior would change the held-out correlation detectably."""
    X, Ys = toy_data(n=40, p=8)
    X[:, 0] = np.arange(40)  # row identifier in the first column
    RidgeCCA.seen = []
    try:
        res = nested_cv(RidgeCCA(), X, Ys, {"smoothness_x": [0.5, 5.0]}, outer_cv=4, inner_cv=3, random_state=3)
        seen = [set(s.astype(int)) for s in RidgeCCA.seen]
    finally:
        RidgeCCA.seen = None
    assert len(seen) == 4 * 2 * 3 + 4
    for rows in seen:
        # every fit lies inside one outer training set, i.e. never touches that fold's test rows
        assert any(rows <= set(tr) and not rows & set(te) for tr, te in res.folds)
    # outer refit reproduced by hand with the training-only prior, then with an all-rows prior
    est = RidgeCCA(smoothness_x=res.best_params[0]["smoothness_x"])
    tr, te = res.folds[0]
    kw = lambda rows: dict(x_adjacency=correlation_graph(X[rows]), y_adjacency=[correlation_graph(Y[rows]) for Y in Ys])
    ok = clone(est).fit(X[tr], [Y[tr] for Y in Ys], **kw(tr))
    leak = clone(est).fit(X[tr], [Y[tr] for Y in Ys], **kw(np.arange(40)))
    test_ok = canonical_correlations(ok, X[te], [Y[te] for Y in Ys])
    test_leak = canonical_correlations(leak, X[te], [Y[te] for Y in Ys])
    got = res.table[res.table.fold == 0]["test_ccc"].to_numpy()
    np.testing.assert_allclose(got, test_ok, rtol=0, atol=1e-12)
    assert np.max(np.abs(test_leak - got)) > 1e-4


def test_resume_skips_finished_tasks(tmp_path):
    path = tmp_path / "run.jsonl"
    full = _nested(results_path=path)
    lines = path.read_text().splitlines(keepends=True)
    n_tasks = 3 * 4 * 3 + 3
    assert len(lines) == 1 + n_tasks
    # simulate a kill: keep the header and 10 tasks, plus half of the next line
    path.write_text("".join(lines[:11]) + lines[11][: len(lines[11]) // 2])
    calls = []
    res = _nested(results_path=path, resume=True, progress=lambda d, t: calls.append(d))
    assert len(calls) == n_tasks - 10  # only unfinished tasks ran
    pd.testing.assert_frame_equal(full.table[DET], res.table[DET])
    np.testing.assert_array_equal(full.x_weights, res.x_weights)
    assert len(path.read_text().splitlines()) == 1 + n_tasks
    # everything finished: nothing runs again
    calls.clear()
    _nested(results_path=path, resume=True, progress=lambda d, t: calls.append(d))
    assert calls == []
    # a different configuration refuses to resume from this store
    X, Ys = toy_data(n=40)
    with pytest.raises(ValueError, match="results_path"):
        nested_cv(RidgeCCA(), X, Ys, GRID, outer_cv=3, inner_cv=3, random_state=99, results_path=path, resume=True)


def test_result_store_roundtrip(tmp_path):
    store = ResultStore(tmp_path / "s.jsonl", "abc")
    value = {"a": np.array([[0.1, np.nan], [1e-300, -2.5]]), "b": [np.arange(3), 1.5], "c": float("inf")}
    store.append("k", value)
    again = ResultStore(tmp_path / "s.jsonl", "abc", resume=True)
    got = again.finished["k"]
    np.testing.assert_array_equal(got["a"], value["a"])
    assert got["a"].dtype == np.float64 and got["b"][0].dtype == np.arange(3).dtype
    assert got["c"] == float("inf")
    with pytest.raises(ValueError, match="tasks"):
        run_tasks(abs, [("x", {"x": 1}), ("x", {"x": 2})])


def test_derive_seed_depends_only_on_keys():
    assert derive_seed(1, "fit", 0, 2) == derive_seed(1, "fit", 0, 2)
    assert len({derive_seed(1, "fit", o) for o in range(100)}) == 100
    assert derive_seed(1, "a") != derive_seed(2, "a")


def test_cross_validate_cca_and_errors():
    X, Ys = toy_data(n=30)
    t, w = cross_validate_cca(RidgeCCA(), X, Ys, cv=3, random_state=0, return_weights=True)
    assert len(t) == 6 and w["x"].shape == (3, 8, 2) and w["y"][1].shape == (3, 6)
    t2 = cross_validate_cca(RidgeCCA(), X, Ys, cv=3, random_state=0, n_jobs=2)
    np.testing.assert_array_equal(t["test_ccc"], t2["test_ccc"])
    with pytest.raises(ValueError, match="cv"):
        cross_validate_cca(RidgeCCA(), X, Ys, cv=1)
    with pytest.raises(ValueError, match="Ys\\[1\\]"):
        cross_validate_cca(RidgeCCA(), X, [Ys[0], Ys[1][:10]])
    with pytest.raises(TypeError, match="Ys"):
        cross_validate_cca(RidgeCCA(), X, Ys[0])
    with pytest.raises(ValueError, match="prior"):
        cross_validate_cca(RidgeCCA(), X, Ys, prior="ld")
    with pytest.raises(ValueError, match="param_grid"):
        nested_cv(RidgeCCA(), X, Ys, {"reg": 1.0})
    with pytest.raises(ValueError, match="param_grid.*sparsity_x"):
        nested_cv(RidgeCCA(), X, Ys, {"sparsity_x": [1.0, 2.0]})
    with pytest.raises(ValueError, match="params"):
        cross_validate_cca(RidgeCCA(), X, Ys, params={"nope": 1})
    with pytest.raises(ValueError, match="random_state"):
        nested_cv(RidgeCCA(), X, Ys, GRID, results_path="x.jsonl", resume=True)
    folds = make_folds(3, 30, 0)
    assert sorted(np.concatenate([te for _, te in folds]).tolist()) == list(range(30))


def test_dask_cluster_identical_to_sequential():
    ref = _nested(n_jobs=1)
    got = on_local_dask_cluster(_nested)
    pd.testing.assert_frame_equal(ref.table[DET], got.table[DET])
    np.testing.assert_array_equal(ref.x_weights, got.x_weights)


MODELS = ["SCCA", "TCCA", "JCBSCCA", "MTSCCA", "MTGSCCA", "MTS2CCA"]


@pytest.mark.parametrize("name", MODELS)
def test_nested_cv_runs_the_cca_models(name):
    cca = pytest.importorskip("imaging_genetics.cca")
    from imaging_genetics.inference import feature_selection_auc
    from imaging_genetics.simulate import multitask_cca_data

    X, Ys, truth = multitask_cca_data(40, 80, 30, correlations=(0.9, 0.5), random_state=0)
    est = getattr(cca, name)(max_iter=10)
    # one grid for every model: API.md names every model's beta1 sparsity_x
    res = nested_cv(est, X, Ys, {"sparsity_x": [0.1, 1.0]}, outer_cv=2, inner_cv=2, random_state=0)
    assert len(res.table) == 2 * 2 and np.isfinite(res.table["test_ccc"]).all()
    W, Vs = res.mean_weights()
    assert W.shape == ((80, 1) if name in ("TCCA", "JCBSCCA") else (80, 2))
    assert [v.shape for v in Vs] == [(30,), (30,)]
    auc = feature_selection_auc(W, truth["support_x"].any(axis=1))
    assert 0.0 <= auc <= 1.0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_no_leakage_with_a_real_model():
    """MTS2CCA in nested CV: standardisation and prior networks come from the outer
    training rows; statistics or networks from all rows give a detectably different
    held-out correlation."""
    cca = pytest.importorskip("imaging_genetics.cca")
    from imaging_genetics.simulate import multitask_cca_data

    X, Ys, _ = multitask_cca_data(60, 30, 20, correlations=(0.9, 0.6), random_state=2,
                                  n_shared_blocks=2, n_shared_modules=1)
    X = X * np.linspace(0.5, 3.0, 30) + 5.0  # unequal column scales and a nonzero mean
    est = cca.MTS2CCA(sparsity_x=0.3, sparsity_y=0.3, max_iter=60, tol=1e-6)
    res = nested_cv(est, X, Ys, {"sparsity_x": [0.3]}, outer_cv=3, inner_cv=2, random_state=0)
    tr, te = res.folds[0]
    got = res.table[res.table.fold == 0]["test_ccc"].to_numpy()

    def fit(prior_rows):
        kw = dict(x_adjacency=correlation_graph((X[prior_rows] - X[prior_rows].mean(0)) / X[prior_rows].std(0)),
                  y_adjacency=[correlation_graph(Y[prior_rows]) for Y in Ys])
        return clone(est).fit(X[tr], [Y[tr] for Y in Ys], **kw)

    ok = fit(tr)
    np.testing.assert_allclose(got, canonical_correlations(ok, X[te], [Y[te] for Y in Ys]), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ok.x_mean_, X[tr].mean(0), rtol=1e-12)

    # the held-out correlation by hand with training statistics ...
    def heldout(mean_rows):
        Xs = (X[te] - X[mean_rows].mean(0)) / X[mean_rows].std(0)
        out = []
        for k, Y in enumerate(Ys):
            Yk = (Y[te] - Y[mean_rows].mean(0)) / Y[mean_rows].std(0)
            out.append(np.corrcoef(Xs @ ok.x_weights_[:, k], Yk @ ok.y_weights_[k])[0, 1])
        return np.array(out)

    np.testing.assert_allclose(heldout(tr), got, atol=1e-10)
    # ... and with statistics of all rows (leakage): detectably different
    assert np.max(np.abs(heldout(np.arange(60)) - got)) > 1e-3
    # prior networks from all rows (leakage): a different fit and held-out correlation
    leak = fit(np.arange(60))
    assert np.max(np.abs(canonical_correlations(leak, X[te], [Y[te] for Y in Ys]) - got)) > 1e-4


def test_explicit_folds_masks_and_errors():
    X, Ys = toy_data(n=30)
    mask = np.arange(30) < 20
    t_mask = cross_validate_cca(RidgeCCA(), X, Ys, cv=[(mask, ~mask)], random_state=0)
    t_idx = cross_validate_cca(RidgeCCA(), X, Ys, cv=[(np.arange(20), np.arange(20, 30))], random_state=0)
    # a boolean mask selects its True rows (not rows 0 and 1)
    assert list(t_mask["n_train"]) == [20, 20] and list(t_mask["n_test"]) == [10, 10]
    np.testing.assert_array_equal(t_mask["test_ccc"], t_idx["test_ccc"])
    bad = {
        "overlap": ([(np.arange(30), np.arange(10))], ValueError, r"cv: fold 0 has 10 row\(s\) in both"),
        "too large": ([(np.arange(20), np.arange(20, 31))], ValueError, r"cv: fold 0 test rows: row index 30 is outside 0..29"),
        "negative": ([(np.arange(-1, 20), np.arange(20, 30))], ValueError, r"training rows: row index -1"),
        "float": ([(np.arange(20) * 1.0, np.arange(20, 30))], TypeError, r"row indices must be integers"),
        "short mask": ([(mask[:25], ~mask)], ValueError, r"boolean mask needs 30 entries"),
    }
    for what, (cv, err, pattern) in bad.items():
        with pytest.raises(err, match=pattern):
            cross_validate_cca(RidgeCCA(), X, Ys, cv=cv)
    with pytest.raises(ValueError, match=r"outer_cv: fold 0 has 10 row"):
        nested_cv(RidgeCCA(), X, Ys, GRID, outer_cv=[(np.arange(30), np.arange(10))], inner_cv=3)


def test_nested_cv_grid_lists_and_empty_grid():
    X, Ys = toy_data(n=30)
    res = nested_cv(RidgeCCA(), X, Ys, [{"reg": [0.1, 10.0]}, {"smoothness_x": [1.0]}], outer_cv=3,
                    inner_cv=3, random_state=0)
    # every parameter of a list of grids has its column, empty where a point lacks it
    assert {"param_reg", "param_smoothness_x"} <= set(res.inner_table.columns)
    last = res.inner_table[res.inner_table.grid_index == 2]
    assert last["param_smoothness_x"].eq(1.0).all() and last["param_reg"].isna().all()
    with pytest.raises(ValueError, match="param_grid: no grid points"):
        nested_cv(RidgeCCA(), X, Ys, [], outer_cv=3, inner_cv=3)
    # one grid point: nothing to tune, so an inner_cv larger than a training part is not used
    one = nested_cv(RidgeCCA(), X, Ys, {"reg": [1.0]}, outer_cv=3, inner_cv=25, random_state=0)
    assert len(one.inner_table) == 0 and len(one.table) == 6
