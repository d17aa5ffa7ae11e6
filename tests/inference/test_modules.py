"""Co-module extraction, significance, overlap and reconstruction correlation."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from imaging_genetics.inference.modules import (
    best_match_jaccard,
    extract_modules,
    extract_sample_modules,
    module_sizes,
    mean_overlap_rate,
    module_significance,
    module_statistic,
    multi_membership_rate,
    overlap_rate,
    reconstruction_correlation,
    reconstruction_errors,
)


class _Fitted:
    def __init__(self, W, Hs):
        self.basis_ = W
        self.coefficients_ = Hs


def test_extract_modules_rowwise_zscores():
    rng = np.random.RandomState(0)
    H = rng.rand(3, 50)
    H[0, [3, 7]] = 20.0
    H[1, 10:12] = 30.0
    H[2] = 1.0  # no spread: empty module
    G = rng.rand(3, 40)
    G[0, 5] = 50.0
    mods = extract_modules([H, G], threshold=2.0)
    assert len(mods) == 3 and all(len(m) == 2 for m in mods)
    assert mods[0][0].tolist() == [3, 7] and mods[1][0].tolist() == [10, 11]
    assert mods[2][0].size == 0
    assert 5 in mods[0][1]
    # z-scores: members are exactly those above mean + T * std (ddof=1), per row
    z = (G - G.mean(1, keepdims=True)) / G.std(1, ddof=1, keepdims=True)
    for i in range(3):
        assert mods[i][1].tolist() == np.flatnonzero(z[i] > 2.0).tolist()
    # invariant to positive row scaling, and per-modality thresholds
    scaled = extract_modules([H * np.array([[2.0], [5.0], [1.0]]), G])
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(mods, scaled))
    loose = extract_modules([H, G], threshold=[2.0, 0.5])
    assert all(len(l[1]) >= len(m[1]) for l, m in zip(loose, mods))
    with pytest.raises(ValueError, match="2 values"):
        extract_modules([H, G], threshold=[1, 2, 3])


def _brute_otsu_members(row):
    """Members above the Otsu split, by trying every split of the sorted row."""
    x = np.sort(row)
    best, t = -1.0, np.inf
    for s in range(1, x.size):
        if x[s] <= x[s - 1]:
            continue
        w0 = s / x.size
        between = w0 * (1 - w0) * (x[:s].mean() - x[s:].mean()) ** 2
        if between > best:
            best, t = between, x[s - 1]
    return np.flatnonzero(row > t)


def test_module_methods_follow_their_definitions():
    rng = np.random.RandomState(1)
    H = rng.rand(4, 60)
    H[0, :6] += 5.0  # a clear block
    H[1, 0] = 1e4  # one huge value inflates the std and hides the block below from zscore
    H[1, 10:15] += 3.0
    mods = {m: extract_modules([H], threshold=t, method=m)
            for m, t in (("zscore", 2.0), ("mad", 3.0), ("otsu", None), ("topk", 5))}
    med = np.median(H, axis=1, keepdims=True)
    robust = (H - med) / (1.482602218505602 * np.median(np.abs(H - med), axis=1, keepdims=True))
    for i in range(4):
        assert mods["mad"][i][0].tolist() == np.flatnonzero(robust[i] > 3.0).tolist()
        assert mods["otsu"][i][0].tolist() == _brute_otsu_members(H[i]).tolist()
        assert mods["topk"][i][0].tolist() == sorted(np.argsort(-H[i], kind="stable")[:5].tolist())
    assert mods["zscore"][1][0].tolist() == [0]
    assert set(range(10, 15)) <= set(mods["mad"][1][0].tolist())
    assert mods["otsu"][0][0].tolist() == list(range(6))
    # a positive row scale changes no rule's members
    scale = np.array([[3.0], [0.01], [7.0], [1e6]])
    for m, t in (("zscore", 2.0), ("mad", 3.0), ("otsu", None), ("topk", 5)):
        again = extract_modules([H * scale], threshold=t, method=m)
        assert all(np.array_equal(a[0], b[0]) for a, b in zip(mods[m], again))
    # default = the JNMF z-score rule at T = 2
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(extract_modules([H]), mods["zscore"]))


def test_column_orientation_scores_each_feature_across_modules():
    rng = np.random.RandomState(2)
    H = rng.rand(6, 30)
    H[2, 4] = 9.0
    mods = extract_modules([H], threshold=1.5, orientation="column")
    z = (H - H.mean(0)) / H.std(0, ddof=1)
    for i in range(6):
        assert mods[i][0].tolist() == np.flatnonzero(z[i] > 1.5).tolist()
    assert 4 in mods[2][0]
    top = extract_modules([H], threshold=1, method="topk", orientation="column")
    assert sum(m[0].size for m in top) == 30  # every feature in exactly one module
    assert all(j in top[int(np.argmax(H[:, j]))][0] for j in range(30))


def test_sample_modules_and_sizes():
    rng = np.random.RandomState(3)
    W = rng.rand(40, 3)
    W[[5, 9], 1] = 10.0
    fitted = _Fitted(W, [rng.rand(3, 8), rng.rand(3, 5)])
    samples = extract_sample_modules(fitted)
    z = (W - W.mean(0)) / W.std(0, ddof=1)
    assert [s.tolist() for s in samples] == [np.flatnonzero(z[:, i] > 2.0).tolist() for i in range(3)]
    assert samples[1].tolist() == [5, 9]
    mods = extract_modules(fitted, threshold=1.0)
    table = module_sizes(mods, names=["snp", "roi"])
    assert table.shape == (3, 3)
    assert table["snp"].tolist() == [m[0].size for m in mods]
    assert (table["total"] == table["snp"] + table["roi"]).all()


@pytest.mark.parametrize("kw,match", [
    (dict(method="median"), "method"),
    (dict(method="otsu", threshold=2.0), "otsu"),
    (dict(method="topk"), "number of members"),
    (dict(method="topk", threshold=2.5), "whole numbers"),
    (dict(method="topk", threshold=0), "whole numbers"),
    (dict(threshold=float("nan")), "finite"),
    (dict(orientation="rows"), "orientation"),
])
def test_module_rule_arguments_are_checked(kw, match):
    H = np.random.RandomState(0).rand(3, 10)
    with pytest.raises(ValueError, match=match):
        extract_modules([H], **kw)


def test_module_statistic_matches_direct_formula():
    rng = np.random.RandomState(1)
    Xs = [rng.rand(25, 10), rng.rand(25, 12), rng.rand(25, 8)]
    module = [np.array([0, 3, 4]), np.array([1, 2, 5, 9]), np.array([0, 7])]
    blocks = [X[:, m] for X, m in zip(Xs, module)]
    pairs = [(0, 1), (0, 2), (1, 2)]
    direct = np.mean([
        np.mean(np.corrcoef(blocks[a].T, blocks[b].T)[: blocks[a].shape[1], blocks[a].shape[1]:] ** 2)
        for a, b in pairs
    ])
    assert np.isclose(module_statistic(module, Xs), direct, rtol=1e-12)


def test_module_pvalues_are_calibrated_under_the_null():
    rng = np.random.RandomState(2)
    pvals = []
    for rep in range(120):
        Xs = [rng.rand(20, 6), rng.rand(20, 5), rng.rand(20, 4)]
        module = [np.arange(3), np.arange(2), np.arange(2)]
        pvals.append(module_significance(module, Xs, n_permutations=99, random_state=rep))
    pvals = np.array(pvals)
    assert np.all((pvals >= 1 / 100) & (pvals <= 1))
    assert stats.kstest(pvals, "uniform").pvalue > 0.01
    assert 0.02 < np.mean(pvals < 0.1) < 0.2


def test_module_significance_detects_association_and_plus_one_rule():
    rng = np.random.RandomState(3)
    z = rng.randn(40, 1)
    Xs = [z + 0.3 * rng.randn(40, 4) + 5, z + 0.3 * rng.randn(40, 3) + 5, rng.rand(40, 3)]
    module = [np.arange(4), np.arange(3), np.arange(3)]
    res = module_significance(module, Xs, n_permutations=199, random_state=0, return_details=True)
    assert res["p_value"] == 1 / 200  # never 0: (count + 1) / (B + 1)
    assert res["statistic"] > res["null"].max()
    again = module_significance(module, Xs, n_permutations=199, random_state=0)
    assert again == res["p_value"]
    with pytest.warns(RuntimeWarning):
        assert np.isnan(module_significance([np.arange(2), np.array([], int), np.array([], int)], Xs,
                                            n_permutations=9))


def test_overlap_rate():
    assert overlap_rate([1, 2, 3, 4], [3, 4, 5]) == pytest.approx(2 / 3)
    assert overlap_rate([1, 2], []) == 0.0
    a = [np.array([1, 2, 3]), np.array([7])]
    b = [np.array([2, 3, 9, 10]), np.array([8])]
    np.testing.assert_allclose(overlap_rate(a, b), [2 / 3, 0.0])
    mods = [[np.array([0, 1, 2])], [np.array([1, 2])], [np.array([5])]]
    np.testing.assert_allclose(mean_overlap_rate(mods), [np.mean([1.0, 0.0, 0.0])])


def test_best_match_jaccard():
    truth = [[np.array([0, 1, 2])], [np.array([5, 6])]]
    found = [[np.array([5, 6])], [np.array([0, 1])]]
    np.testing.assert_allclose(best_match_jaccard(found, truth), [[2 / 3], [1.0]])


def test_reconstruction_correlation():
    rng = np.random.RandomState(4)
    W, H1, H2 = rng.rand(10, 2), rng.rand(2, 6), rng.rand(2, 5)
    exact = _Fitted(W, [H1, H2])
    Xs = [W @ H1, W @ H2 + rng.rand(10, 5)]
    r = reconstruction_correlation(exact, Xs)
    assert r[0] == pytest.approx(1.0)
    assert r[1] == pytest.approx(np.corrcoef(Xs[1].ravel(), (W @ H2).ravel())[0, 1])
    with pytest.raises(ValueError, match="modalities"):
        reconstruction_correlation(exact, Xs[:1])


def test_reconstruction_errors_match_direct_formulas():
    rng = np.random.RandomState(7)
    W, Hs = rng.rand(12, 3), [rng.rand(3, 7), rng.rand(3, 4), rng.rand(3, 5)]
    Xs = [W @ H + rng.rand(*(12, H.shape[1])) for H in Hs]
    table = reconstruction_errors(_Fitted(W, Hs), Xs)
    assert table.index.tolist() == [0, 1, 2, "total"]
    assert table.columns.tolist() == ["fit", "relative_frobenius", "relative_l1"]
    R = [X - W @ H for X, H in zip(Xs, Hs)]
    fit = [np.sum(r ** 2) for r in R]
    np.testing.assert_allclose(table["fit"].iloc[:3], fit, rtol=1e-12)
    np.testing.assert_allclose(table["relative_frobenius"].iloc[:3],
                               [np.linalg.norm(r) / np.linalg.norm(X) for r, X in zip(R, Xs)], rtol=1e-12)
    l1 = [np.mean(np.abs(r)) / np.mean(X) for r, X in zip(R, Xs)]
    np.testing.assert_allclose(table["relative_l1"].iloc[:3], l1, rtol=1e-12)
    total = table.loc["total"]
    assert total["fit"] == pytest.approx(sum(fit), rel=1e-12)
    assert total["relative_frobenius"] == pytest.approx(np.sqrt(sum(fit) / sum(np.sum(X ** 2) for X in Xs)), rel=1e-12)
    assert total["relative_l1"] == pytest.approx(sum(l1), rel=1e-12)
    # the relative errors do not depend on the data scale; the fit term scales with its square
    c = 37.5
    scaled = reconstruction_errors(_Fitted(c * W, Hs), [c * X for X in Xs])
    np.testing.assert_allclose(scaled[["relative_frobenius", "relative_l1"]], table[["relative_frobenius", "relative_l1"]],
                               rtol=1e-12)
    np.testing.assert_allclose(scaled["fit"], c ** 2 * table["fit"], rtol=1e-12)
    # a perfect reconstruction has no error at all
    exact = reconstruction_errors(_Fitted(W, Hs), [W @ H for H in Hs])
    np.testing.assert_allclose(exact.to_numpy(dtype=float), 0.0, atol=1e-12)


def test_reconstruction_errors_total_fit_is_the_fit_term_of_a_fitted_model():
    from imaging_genetics.nmf import JNMF

    Xs = _small_problem()
    model = JNMF(3, n_restarts=1, max_iter=50, random_state=0).fit(Xs)
    table = reconstruction_errors(model, Xs)
    assert table.loc["total", "fit"] == pytest.approx(model.objective_terms_["fit"], rel=1e-9)
    assert (table["relative_frobenius"] < 1).all() and (table["relative_l1"] > 0).all()


def test_reconstruction_errors_zero_data_and_shape_checks():
    rng = np.random.RandomState(8)
    W, Hs = rng.rand(6, 2), [rng.rand(2, 3), np.zeros((2, 4))]
    Xs = [rng.rand(6, 3), np.zeros((6, 4))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = reconstruction_errors(_Fitted(W, Hs), Xs)
    assert table.loc[1, "fit"] == 0.0
    assert np.isnan(table.loc[1, "relative_frobenius"]) and np.isnan(table.loc[1, "relative_l1"])
    assert np.isnan(table.loc["total", "relative_l1"])  # summed over modalities, as Zhang's code
    assert table.loc["total", "relative_frobenius"] == pytest.approx(table.loc[0, "relative_frobenius"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zero = reconstruction_errors(_Fitted(W, [np.zeros((2, 3))]), [np.zeros((6, 3))])
    assert zero.loc["total", "fit"] == 0.0 and zero[["relative_frobenius", "relative_l1"]].isna().all().all()
    fitted = _Fitted(W, Hs)
    with pytest.raises(ValueError, match="modalities"):
        reconstruction_errors(fitted, Xs[:1])
    with pytest.raises(ValueError, match=r"Xs\[1\]: expected shape"):
        reconstruction_errors(fitted, [Xs[0], np.zeros((6, 5))])
    with pytest.raises(ValueError, match="same samples"):
        reconstruction_errors(fitted, [Xs[0], np.zeros((5, 4))])
    with pytest.raises(ValueError, match=r"coefficients_\[0\] has 3 rows"):
        reconstruction_errors(_Fitted(W, [rng.rand(3, 3), rng.rand(2, 4)]), Xs)
    with pytest.raises(ValueError, match="not fitted"):
        reconstruction_errors(_Fitted(None, Hs), Xs)


def test_reconstruction_errors_do_not_depend_on_blas_threads():
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(3)
    W, Hs = rng.random((150, 10)), [rng.random((10, 2000)), rng.random((10, 300))]
    fitted, Xs = _Fitted(W, Hs), [np.abs(rng.standard_normal((150, H.shape[1]))) for H in Hs]
    tables = []
    for n in (1, 2):
        with threadpool_limits(limits=n, user_api="blas"):
            tables.append(reconstruction_errors(fitted, Xs).to_numpy(dtype=float))
    np.testing.assert_array_equal(tables[0], tables[1])


def test_multi_membership_rate_hand_worked():
    # modality 0: feature 5 in 4 modules, 0 in 3, 1 in 2, 2 in 1; modality 1: no member at all
    e = np.array([], dtype=int)
    mods = [[np.array([0, 1, 5]), e], [np.array([0, 1, 5, 5]), e], [np.array([0, 2, 5]), e], [np.array([5]), e]]
    mods += [[e, e] for _ in range(16)]  # K = 20 modules: a feature must be in more than 2
    rate = multi_membership_rate(mods)
    assert rate[0] == pytest.approx(2 / 4)  # features 0 and 5 of the members {0, 1, 2, 5}
    assert np.isnan(rate[1])
    # the same four modules with K = 4: the cut is max(1, 0.4) = 1, so features 0, 1 and 5 count
    assert multi_membership_rate(mods[:4])[0] == pytest.approx(3 / 4)
    assert multi_membership_rate(mods[:4], n_components=20)[0] == pytest.approx(2 / 4)
    assert multi_membership_rate(mods[:4], n_components=25)[0] == pytest.approx(2 / 4)  # cut 2.5
    assert multi_membership_rate(mods[:4], n_components=30)[0] == pytest.approx(1 / 4)  # cut 3
    # not the pairwise overlap rate: a nested pair has overlap rate 1 but, for K = 20, no multi-member
    nested = [[np.array([0, 1, 2, 3])], [np.array([1, 2])]]
    assert mean_overlap_rate(nested)[0] == 1.0
    assert multi_membership_rate(nested, n_components=20)[0] == 0.0
    assert multi_membership_rate(nested)[0] == pytest.approx(2 / 4)
    with pytest.raises(ValueError, match="n_components"):
        multi_membership_rate(mods, n_components=5)
    with pytest.raises(ValueError, match="same number of modalities"):
        multi_membership_rate([[np.arange(2)], [np.arange(2), e]])


def test_study_module_table_has_bh_q_values(tmp_path):
    import json

    import pandas as pd

    from imaging_genetics.biology import benjamini_hochberg
    from imaging_genetics.workflows.study import run_study

    rng = np.random.RandomState(0)
    n = 30
    z = rng.rand(n, 2)  # two shared factors: some modules are significant, others not
    ids = [f"s{i}" for i in range(n)]
    for name, p in (("a", 10), ("b", 8)):
        X = np.hstack([z[:, :1] + 0.1 * rng.rand(n, 3), z[:, 1:] + 0.1 * rng.rand(n, 3), rng.rand(n, p - 6)])
        frame = pd.DataFrame(X, columns=[f"{name}{j}" for j in range(p)])
        frame.insert(0, "id", ids)
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    (tmp_path / "study.yaml").write_text(
        "modalities:\n"
        "  - {name: a, file: a.csv, id_column: id}\n"
        "  - {name: b, file: b.csv, id_column: id}\n"
        "analyses:\n"
        "  nmf: {modalities: [a, b], models: [JNMF, JSNMNMF], n_components: 4, n_restarts: 1,\n"
        "        module_threshold: 1.0, permutations: 19}\n"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_study(tmp_path / "study.yaml", tmp_path / "out")
    table = pd.read_csv(tmp_path / "out" / "nmf_modules.csv")
    cols = table.columns.tolist()
    assert cols[cols.index("p_value") + 1] == "fdr"
    for _, group in table.groupby("model"):  # one family per model
        p, q = group["p_value"].to_numpy(), group["fdr"].to_numpy()
        assert np.isfinite(p).sum() >= 2
        np.testing.assert_allclose(q, benjamini_hochberg(p), equal_nan=True)
        ok = np.isfinite(p)
        assert (q[ok] >= p[ok]).all() and np.array_equal(np.isnan(q), ~ok)
    assert (table["fdr"] > table["p_value"]).any()
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert all("fdr" in row for row in results["nmf"]["modules"])


# -- model selection (nmf_selection) ----------------------------------------

def _small_problem():
    rng = np.random.RandomState(5)
    W = rng.randint(1, 11, size=(25, 3)).astype(float)
    return [np.maximum(W @ rng.randint(1, 11, size=(3, p)) + rng.randn(25, p), 0) for p in (12, 15)]


def test_grid_search_order_scoring_and_resume(tmp_path):
    from imaging_genetics.inference.nmf_selection import nmf_grid_search
    from imaging_genetics.nmf import JSNMNMF

    Xs = _small_problem()
    A = {(0, 1): np.random.RandomState(0).rand(12, 15)}
    est = JSNMNMF(3, n_restarts=1, max_iter=30, random_state=0)
    grid = {"cross_strength": [1e-3, 1.0], "basis_penalty": [1e-3, 10.0], "sparsity": [1e-3, 10.0]}
    store = tmp_path / "grid.jsonl"
    table = nmf_grid_search(Xs, cross_adjacency=A, estimator=est, param_grid=grid, store=store)
    assert len(table) == 8 and table["group"].tolist() == list(range(1, 9))
    # nested-loop numbering: lambda outermost, gamma2 innermost
    assert table.loc[1, ["cross_strength", "basis_penalty", "sparsity"]].tolist() == [1e-3, 1e-3, 10.0]
    assert table.loc[4, "cross_strength"] == 1.0
    # the recommended setting is the lowest error among those with a bounded objective
    bounded = table[table["bounded"]]
    best = bounded.loc[bounded["reconstruction_error"].idxmin()]
    assert table.attrs["best_group"] == best["group"] and table.attrs["best_bounded"]
    # strong penalties cost reconstruction accuracy
    assert table.loc[0, "reconstruction_error"] < table.loc[3, "reconstruction_error"]
    # the unbounded settings are flagged (lambda=1 > 2 gamma2 with gamma2=1e-3)
    assert not table.loc[(table.cross_strength == 1.0) & (table.sparsity == 1e-3), "bounded"].any()
    assert table.loc[(table.sparsity == 10.0), "bounded"].all()
    assert len(store.read_text().splitlines()) == 1 + 8  # header + one line per setting
    again = nmf_grid_search(Xs, cross_adjacency=A, estimator=est, param_grid=grid, store=store)
    assert len(store.read_text().splitlines()) == 1 + 8  # nothing refitted
    np.testing.assert_allclose(again["reconstruction_error"], table["reconstruction_error"])
    # a store written for other data (or other priors) is refused rather than reused
    other = [X * 2.0 for X in Xs]
    with pytest.raises(ValueError, match="another grid search"):
        nmf_grid_search(other, cross_adjacency=A, estimator=est, param_grid=grid, store=store)
    with pytest.raises(ValueError, match="another grid search"):
        nmf_grid_search(Xs, cross_adjacency={(0, 1): A[(0, 1)] + 1.0}, estimator=est, param_grid=grid, store=store)


def test_select_n_components_curves():
    from imaging_genetics.inference.nmf_selection import select_n_components
    from imaging_genetics.nmf import JNMF

    Xs = _small_problem()
    curves = select_n_components(Xs, [1, 2, 3], estimator=JNMF(n_restarts=2, max_iter=100, random_state=0))
    assert curves["n_components"].tolist() == [1, 2, 3]
    err = curves["reconstruction_error"].to_numpy()
    assert err[0] > err[1] > err[2]  # more components fit better
    assert (curves["correlation_0"].diff().dropna() > -1e-9).all()
    assert {"overlap_rate_1", "empty_modules_0", "multi_membership_0"} <= set(curves.columns)
    # with K <= 10 the cut is one module: the rate counts features in two modules or more
    model = JNMF(n_components=3, n_restarts=2, max_iter=100, random_state=0).fit(Xs)
    np.testing.assert_equal(curves["multi_membership_0"].iloc[2], multi_membership_rate(extract_modules(model), 3)[0])
    with pytest.raises(ValueError, match="outside"):
        select_n_components(Xs, [20])


def test_random_feature_null_and_reproducibility():
    from imaging_genetics.inference.modules import module_reproducibility

    rng = np.random.RandomState(6)
    z = rng.randn(30, 1)
    Xs = [np.hstack([z + 0.3 * rng.randn(30, 3), rng.rand(30, 9)]) + 5,
          np.hstack([z + 0.3 * rng.randn(30, 2), rng.rand(30, 8)]) + 5]
    p = module_significance([np.arange(3), np.arange(2)], Xs, n_permutations=99, random_state=0,
                            null="random_features")
    assert p <= 0.05  # the correlated features beat random feature sets
    with pytest.raises(ValueError, match="null"):
        module_significance([np.arange(3), np.arange(2)], Xs, n_permutations=9, null="bogus")
    a = [[np.array([0, 1, 2])], [np.array([5, 6])]]
    b = [[np.array([5, 6, 7])], [np.array([0, 1, 2])]]  # same modules, other order
    np.testing.assert_allclose(module_reproducibility(a, b), [1.0])


def test_grid_store_fingerprint_hashes_sparse_priors_without_densifying(monkeypatch):
    import scipy.sparse as sp

    from imaging_genetics.inference._parallel import fingerprint

    A = sp.random(50, 50, density=0.1, random_state=0, format="csr")
    monkeypatch.setattr(sp.csr_matrix, "toarray", lambda self, *a, **k: pytest.fail("densified"))
    same = fingerprint({}, [A.tocoo()])  # another layout of the same matrix
    assert fingerprint({}, [A]) == same
    B = A.copy()
    B.data[0] += 1e-9
    assert fingerprint({}, [B]) != same


def test_restart_stability_separates_planted_modules_from_noise():
    from imaging_genetics.inference import restart_stability
    from imaging_genetics.nmf import JNMF
    from imaging_genetics.simulate import joint_nmf_data

    Xs, _ = joint_nmf_data(60, n_features=(40, 50, 30), n_components=4, noise_level=1.0, random_state=0)
    est = JNMF(n_components=4, max_iter=300, tol=1e-6)
    table = restart_stability(Xs, 6, estimator=est, random_state=0)
    assert len(table) == 6 and table["reference"].sum() == 1
    ref = table[table["reference"]].iloc[0]
    assert ref["objective"] == table["objective"].min()
    for I in range(3):
        assert ref[f"reproducibility_{I}"] == table[f"reproducibility_{I}"].max()
    rng = np.random.RandomState(1)
    noise = restart_stability([rng.rand(60, p) for p in (40, 50, 30)], 6, estimator=est, random_state=0)
    # planted co-modules come back from other starts; modules of noise do not
    assert np.mean(table.attrs["reproducibility"]) > np.mean(noise.attrs["reproducibility"]) + 0.2
    # reproducible: the seeds depend on random_state and the run only, not on n_jobs
    again = restart_stability(Xs, 6, estimator=est, random_state=0, n_jobs=2)
    pd.testing.assert_frame_equal(table, again)
    with pytest.raises(ValueError, match="n_runs"):
        restart_stability(Xs, 1, estimator=est)
    with pytest.raises(ValueError, match="otsu"):
        restart_stability(Xs, 3, estimator=est, method="otsu", threshold=2.0)


def test_module_indices_masks_and_errors():
    # boolean masks name their True features; whole floats are indices
    assert overlap_rate(np.array([True, False, True]), np.array([True, True, False])) == 0.5
    assert overlap_rate([1.0, 2.0], [2]) == 1.0
    with pytest.raises(ValueError, match=r"module_a: feature indices must be whole numbers, got 2.5"):
        overlap_rate([1.0, 2.5], [2.0])
    rng = np.random.default_rng(3)
    z = rng.normal(size=(40, 1))
    Xs = [np.abs(z + 0.3 * rng.normal(size=(40, 5))), np.abs(z + 0.3 * rng.normal(size=(40, 4)))]
    by_mask = module_significance([np.arange(5) < 3, np.array([False, True, True, False])], Xs, 49, random_state=0)
    by_index = module_significance([np.arange(3), np.array([1, 2])], Xs, 49, random_state=0)
    assert by_mask == by_index
    with pytest.raises(ValueError, match=r"module\[0\]: a boolean mask needs one entry per column of Xs\[0\] \(5\)"):
        module_significance([np.array([True, True]), np.array([1, 2])], Xs, 49)
    H = rng.random((2, 10))
    H[0, 3] = np.nan
    with pytest.raises(ValueError, match=r"H_0: 1 NaN or infinite coefficient"):
        extract_modules([H], threshold=1.0)


def test_best_setting_prefers_bounded_and_finite():
    from imaging_genetics.inference import best_setting

    table = pd.DataFrame({"group": [1, 2, 3, 4], "reconstruction_error": [0.5, np.nan, 1.0, 2.0],
                          "bounded": [False, True, True, True]})
    assert best_setting(table)["group"] == 3  # 1 is better but unbounded, 2 diverged
    table["bounded"] = False
    assert best_setting(table)["group"] == 1  # none bounded: the best of all, flagged
    table["reconstruction_error"] = np.nan
    with pytest.raises(ValueError, match="every setting of the grid diverged"):
        best_setting(table)
