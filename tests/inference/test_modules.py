"""Co-module extraction, significance, overlap and reconstruction correlation."""

import numpy as np
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
    overlap_rate,
    reconstruction_correlation,
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
    best = table.loc[table["reconstruction_error"].idxmin()]
    assert table.attrs["best_group"] == best["group"] and best["rank"] == 1
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
    assert {"overlap_rate_1", "empty_modules_0"} <= set(curves.columns)
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
