import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from imaging_genetics.cca import MTS2CCA, SCCA
from imaging_genetics.inference import estimation_accuracy, feature_selection_auc, metrics
from imaging_genetics.inference.metrics import align_signs, canonical_correlations, roc_points, timed_fit

from _toy_cca import RidgeCCA, toy_data


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(50)
    w[rng.integers(0, 50, 10)] = 0.0  # ties
    mask = rng.random(50) < 0.3
    mask[0], mask[1] = True, False
    assert feature_selection_auc(w, mask) == pytest.approx(roc_auc_score(mask, np.abs(w)), abs=1e-12)


def test_auc_per_task_and_row_norms():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((40, 3))
    M = rng.random((40, 3)) < 0.3
    M[0] = True
    M[1] = False
    per = feature_selection_auc(W, M, per_task=True)
    assert per.shape == (3,)
    for k in range(3):
        assert per[k] == pytest.approx(roc_auc_score(M[:, k], np.abs(W[:, k])))
    rn = feature_selection_auc(W, M)
    assert rn == pytest.approx(roc_auc_score(M.any(1), np.linalg.norm(W, axis=1)))
    # list of vectors of unequal length, per task
    vs = [rng.standard_normal(10), rng.standard_normal(12)]
    ms = [np.arange(10) < 3, np.arange(12) < 4]
    got = feature_selection_auc(vs, ms, per_task=True)
    assert got[1] == pytest.approx(roc_auc_score(ms[1], np.abs(vs[1])))
    with pytest.raises(ValueError, match="per_task"):
        feature_selection_auc(vs, ms)
    fpr, tpr, auc = roc_points(W, M)
    assert auc == pytest.approx(rn) and fpr[0] == 0 and tpr[-1] == 1


def test_auc_errors_name_argument():
    with pytest.raises(ValueError, match="truth_mask"):
        feature_selection_auc(np.ones(5), np.zeros(5, bool))
    with pytest.raises(ValueError, match="truth_mask"):
        feature_selection_auc(np.ones(5), np.array([1, 0, 1]))


def test_estimation_accuracy():
    t = np.array([1.0, 2.0, 0.0])
    assert estimation_accuracy(-3 * t, t) == pytest.approx(1.0)
    assert estimation_accuracy(np.array([0.0, 0.0, 1.0]), t) == 0.0
    acc = estimation_accuracy(np.column_stack([t, [0, 0, 1.0]]), t)
    assert acc.shape == (2,) and acc[0] == pytest.approx(1.0)
    assert estimation_accuracy(np.zeros(3), t) == 0.0
    # scale-free: tiny or huge weights give the cosine of their direction
    w = np.array([1.0, 1.0, 0.0])
    for scale in (1e-200, 1e-12, 1e150):
        assert estimation_accuracy(scale * w, t) == pytest.approx(3 / np.sqrt(10))
        assert estimation_accuracy(w, scale * t) == pytest.approx(3 / np.sqrt(10))
    with pytest.raises(ValueError, match="weights: column 0 contains NaN"):
        estimation_accuracy(np.array([np.nan, 1.0, 0.0]), t)
    with pytest.raises(ValueError, match="true_weights: column 1 contains NaN"):
        estimation_accuracy([t, t], [t, np.array([np.inf, 0, 0])])


def test_align_signs_flips_pairs_together():
    rng = np.random.default_rng(0)
    u = rng.standard_normal((10, 2))
    v = [rng.standard_normal(4), rng.standard_normal(5)]
    signs = np.array([[1, 1], [-1, 1], [1, -1]])
    U = np.stack([u * s for s in signs])
    V = [np.stack([v[k] * s[k] for s in signs]) for k in range(2)]
    Ua, Va = align_signs(U, V)
    for f in range(3):
        np.testing.assert_array_equal(Ua[f], u)
        np.testing.assert_array_equal(Va[1][f], v[1])
    # shared SNP vector (Kx = 1): all imaging vectors flip with it
    U1 = np.stack([u[:, :1], -u[:, :1]])
    V1 = [np.stack([v[0], -v[0]]), np.stack([v[1], -v[1]])]
    Ua, Va = align_signs(U1, V1)
    np.testing.assert_array_equal(Ua[1], u[:, :1])
    np.testing.assert_array_equal(Va[1][1], v[1])


def test_timed_fit_and_correlations():
    X, Ys = toy_data(n=50)
    rec = timed_fit(RidgeCCA(), X, Ys)
    assert rec.fit_time_s > 0 and rec.peak_memory_mb > 0 and rec.fit_memory_mb >= 0
    assert rec.memory_method in ("vmhwm", "sampled")
    c = canonical_correlations(rec.estimator, X, Ys)
    np.testing.assert_allclose(c, rec.estimator.canonical_correlations_, atol=1e-12)


@pytest.mark.skipif(metrics._malloc_trim() is None, reason="needs glibc's malloc_trim")
def test_timed_fit_memory_growth_is_repeatable():
    # heap memory freed by a larger earlier fit, still held by the allocator, used to
    # be reused unseen: the same small fit then reported no growth at all
    X, Ys = toy_data(n=150, p=400, qs=(40, 40))
    timed_fit(SCCA(max_iter=30), X, Ys)  # the first fit also allocates what stays (caches)
    before = timed_fit(SCCA(max_iter=30), X, Ys)
    if before.memory_method != "vmhwm":
        pytest.skip("needs the kernel's resettable high-water mark")
    timed_fit(MTS2CCA(max_iter=30), X, Ys)
    _, after = (timed_fit(SCCA(max_iter=30), X, Ys) for _ in range(2))
    assert before.fit_memory_mb > 1.0
    assert after.fit_memory_mb == pytest.approx(before.fit_memory_mb, rel=0.25)


def test_auc_plain_lists_union_and_nan():
    w, t = [0.1, 0.9, 0.2, 0.8], [0, 1, 0, 1]
    # plain lists of numbers are one vector each
    assert feature_selection_auc(w, t) == feature_selection_auc(np.array(w), np.array(t)) == 1.0
    assert feature_selection_auc(np.array(w), [1, 0, 0, 1]) == 0.25  # 1 of 4 pairs ordered
    # one shared weight vector against per-task supports: their union
    masks = np.array([[0, 0], [1, 0], [0, 0], [0, 1]])
    assert feature_selection_auc(np.array(w)[:, None], masks) == 1.0
    assert feature_selection_auc(np.array([0.1, 0.9, 0.2, 0.05])[:, None], masks) == 0.5
    with pytest.raises(ValueError, match="truth_mask: contains NaN"):
        feature_selection_auc(w, [0, np.nan, 1, 0])


def test_labelled_truth_is_matched_by_feature_name():
    """Weights read back from a table (indexed by SNP) and a truth indexed by SNP in
    another order are compared SNP by SNP, not row by row."""
    import pandas as pd



    rng = np.random.default_rng(0)
    snps = [f"rs{j}" for j in range(40)]
    truth = pd.Series(rng.random(40) < 0.3, index=snps)
    weights = pd.DataFrame({"w": np.where(truth, 1.0, 0.1) + 0.05 * rng.standard_normal(40)}, index=snps)
    expected = feature_selection_auc(weights.to_numpy(), truth.to_numpy())
    shuffled = truth.sample(frac=1.0, random_state=1)
    assert feature_selection_auc(weights, shuffled) == expected == 1.0
    assert feature_selection_auc(weights.to_numpy(), shuffled.to_numpy()) < 0.9  # by position: another truth
    assert roc_points(weights, shuffled)[2] == expected
    true_w = pd.Series(np.where(truth, 1.0, 0.0), index=snps)
    assert estimation_accuracy(weights["w"], true_w.iloc[::-1]) == estimation_accuracy(weights["w"].to_numpy(),
                                                                                       true_w.to_numpy())
    with pytest.raises(ValueError, match=r"truth_mask: no entry in its index for 1 of the features of weights, "
                                         r"e\.g\. \['rs0'\]"):
        feature_selection_auc(weights, truth.iloc[1:])
