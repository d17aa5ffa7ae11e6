"""Differential expression: BH, Welch, moderated t (Smyth 2004), the filter."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats
from sklearn.base import clone

from imaging_genetics.biology import (
    DifferentialExpressionFilter,
    benjamini_hochberg,
    estimate_prior,
    moderated_t_test,
    trigamma_inverse,
    welch_t_test,
)


# ----------------------------------------------------------------- Benjamini–Hochberg


def test_bh_small_example_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 -> p*m/rank = 0.02, 0.02, 0.04, 0.04
    p = np.array([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(benjamini_hochberg(p), [0.02, 0.04, 0.04, 0.02])
    # step-up minimum: 0.01*4/1=0.04, 0.02*4/2=0.04, 0.03*4/3=0.04, 0.5
    np.testing.assert_allclose(benjamini_hochberg([0.01, 0.02, 0.03, 0.5]), [0.04, 0.04, 0.04, 0.5])
    np.testing.assert_allclose(benjamini_hochberg([0.9, 0.8]), [0.9, 0.9])


def test_bh_matches_step_up_rule_and_is_monotone():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(size=300), rng.uniform(0, 1e-3, size=30)])
    q = benjamini_hochberg(p)
    order = np.argsort(p)
    assert np.all(np.diff(q[order]) >= -1e-15)
    assert np.all(q >= p - 1e-15) and np.all(q <= 1)
    m = p.size
    for level in (0.01, 0.05, 0.2):
        ps = np.sort(p)
        below = np.flatnonzero(ps <= level * np.arange(1, m + 1) / m)
        k = below.max() + 1 if below.size else 0
        assert int((q <= level).sum()) == k


def test_bh_nan_and_shape_and_errors():
    q = benjamini_hochberg(np.array([[0.01, np.nan], [0.02, 0.04]]))
    assert q.shape == (2, 2) and np.isnan(q[0, 1])
    np.testing.assert_allclose(q[~np.isnan(q)], [0.03, 0.03, 0.04])
    with pytest.raises(ValueError, match="pvalues"):
        benjamini_hochberg([0.1, 1.5])
    assert benjamini_hochberg([]).size == 0


# ----------------------------------------------------------------- Welch


def _two_group_data(seed=0, n1=5, n2=7, g=40):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n1 + n2, g)) * rng.uniform(0.5, 2.0, size=g)
    X[:n1, :5] += 1.5
    groups = np.array(["AD"] * n1 + ["HC"] * n2)
    return X, groups


def test_welch_matches_scipy():
    X, groups = _two_group_data()
    res = welch_t_test(X, groups, levels=("AD", "HC"))
    ref = stats.ttest_ind(X[groups == "AD"], X[groups == "HC"], equal_var=False)
    np.testing.assert_allclose(res["t"], ref.statistic, rtol=1e-10)
    np.testing.assert_allclose(res["p"], ref.pvalue, rtol=1e-8)
    np.testing.assert_allclose(res["df"], ref.df, rtol=1e-10)
    np.testing.assert_allclose(
        res["mean_difference"], X[groups == "AD"].mean(0) - X[groups == "HC"].mean(0)
    )
    np.testing.assert_allclose(res["fdr"], benjamini_hochberg(res["p"]))


def test_default_levels_sorted_first_is_control():
    X, groups = _two_group_data()
    res = welch_t_test(X, groups)  # sorted: AD, HC -> case HC, control AD
    assert res.attrs["levels"] == ("HC", "AD")
    ref = stats.ttest_ind(X[groups == "HC"], X[groups == "AD"], equal_var=False)
    np.testing.assert_allclose(res["t"], ref.statistic, rtol=1e-10)


def test_levels_select_two_of_three_groups():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(15, 10))
    groups = np.array(["AD"] * 5 + ["MCI"] * 5 + ["HC"] * 5)
    res = welch_t_test(X, groups, levels=("AD", "HC"))
    ref = stats.ttest_ind(X[:5], X[10:], equal_var=False)
    np.testing.assert_allclose(res["t"], ref.statistic, rtol=1e-10)


def test_dataframe_gene_names_kept():
    X, groups = _two_group_data(g=6)
    df = pd.DataFrame(X, columns=[f"G{i}" for i in range(6)])
    res = moderated_t_test(df, pd.Series(groups), levels=("AD", "HC"))
    assert list(res["gene"]) == list(df.columns)
    assert set(res.columns) >= {"gene", "mean_difference", "t", "p", "fdr", "df"}


# ----------------------------------------------------------------- moderated t


def test_trigamma_inverse_roundtrip():
    x = np.array([1e-8, 1e-4, 0.05, 1.0, 3.0, 50.0, 1e4, 1e8])
    y = trigamma_inverse(x)
    np.testing.assert_allclose(special.polygamma(1, y), x, rtol=1e-6)


def test_prior_zero_is_pooled_t_test():
    X, groups = _two_group_data(seed=3)
    res = moderated_t_test(X, groups, levels=("AD", "HC"), prior_df=0)
    ref = stats.ttest_ind(X[groups == "AD"], X[groups == "HC"], equal_var=True)
    np.testing.assert_allclose(res["t"], ref.statistic, rtol=1e-10)
    np.testing.assert_allclose(res["p"], ref.pvalue, rtol=1e-8)


def test_infinite_prior_df_limit_is_known_variance_test():
    X, groups = _two_group_data(seed=4)
    n1, n2 = 5, 7
    s0sq = 1.7
    diff = X[groups == "AD"].mean(0) - X[groups == "HC"].mean(0)
    z = diff / np.sqrt(s0sq * (1 / n1 + 1 / n2))
    G, d = X.shape[1], n1 + n2 - 2
    for d0 in (np.inf, 1e12):
        res = moderated_t_test(X, groups, levels=("AD", "HC"), prior_df=d0, prior_var=s0sq)
        np.testing.assert_allclose(res["t"], z, rtol=1e-8)
        # a known prior (prior_var given) is not capped at the pooled df G*d
        assert res["df"].iloc[0] == d + d0 > G * d
    # prior_df=inf with prior_var: the z-test with known variance, normal p-values
    res = moderated_t_test(X, groups, levels=("AD", "HC"), prior_df=np.inf, prior_var=s0sq)
    assert np.isinf(res["df"]).all()
    np.testing.assert_allclose(res["p"], 2 * stats.norm.sf(np.abs(z)), rtol=1e-12)
    # a growing prior df moves the statistic continuously towards the limit
    t_big = moderated_t_test(X, groups, levels=("AD", "HC"), prior_df=1e6, prior_var=s0sq)["t"]
    np.testing.assert_allclose(t_big, z, rtol=1e-4)


def test_equal_sample_variances_give_infinite_prior_df():
    # every gene has the same within-group residuals: no extra variance to model
    rng = np.random.default_rng(5)
    resid = rng.normal(size=(8, 1))
    resid[:4] -= resid[:4].mean()
    resid[4:] -= resid[4:].mean()
    shifts = rng.normal(size=(1, 30)) * np.r_[np.ones(4), np.zeros(4)][:, None]
    X = resid + shifts + rng.normal(size=(1, 30))
    groups = np.r_[np.ones(4), np.zeros(4)]
    res = moderated_t_test(X, groups)
    d = 6.0
    s2 = float((resid**2).sum() / d)
    assert np.isinf(res.attrs["prior_df"])
    # s0² = the pooled variance mean(s_g²), as limma's fitFDist since 2017 (not the
    # larger exp(mean of bias-corrected log variances) of earlier versions)
    assert res.attrs["prior_var"] == pytest.approx(s2, rel=1e-10)
    plain = stats.ttest_ind(X[groups == 1], X[groups == 0]).statistic
    np.testing.assert_allclose(res["t"].to_numpy(), plain, rtol=1e-8)
    # the prior is estimated from the data: df stays capped at G*d (limma's df.pooled)
    assert (res["df"] == 30 * d).all()


def test_homogeneous_true_variances_estimate_large_prior_df():
    rng = np.random.default_rng(6)
    X = rng.normal(scale=np.sqrt(2.0), size=(8, 5000))
    d0, s0sq = estimate_prior(X[:4].var(0, ddof=1) * 0.5 + X[4:].var(0, ddof=1) * 0.5, 6.0)
    assert d0 > 40
    assert s0sq == pytest.approx(2.0, rel=0.05)


def test_prior_estimate_recovers_simulated_hyperparameters():
    rng = np.random.default_rng(7)
    G, d, d0, s0sq = 20000, 6, 4.0, 0.5
    sigma2 = d0 * s0sq / rng.chisquare(d0, G)
    s2 = sigma2 * rng.chisquare(d, G) / d
    d0_hat, s0_hat = estimate_prior(s2, d)
    assert 3.0 < d0_hat < 5.5
    assert s0_hat == pytest.approx(s0sq, rel=0.1)


def test_moderated_t_calibrated_under_null():
    rng = np.random.default_rng(8)
    G = 6000
    sigma2 = 4 * 1.0 / rng.chisquare(4, G)
    X = rng.normal(size=(6, G)) * np.sqrt(sigma2)
    res = moderated_t_test(X, [0, 0, 0, 1, 1, 1])
    rate = float((res["p"] < 0.05).mean())
    assert 0.04 < rate < 0.06
    assert 2.5 < res.attrs["prior_df"] < 6.5


def _power_data(seed, G=2000, n_de=200, d0=4.0, s0sq=1.0, effect=3.5):
    rng = np.random.default_rng(seed)
    sigma2 = d0 * s0sq / rng.chisquare(d0, G)
    X = rng.normal(size=(6, G)) * np.sqrt(sigma2)
    truth = np.zeros(G, dtype=bool)
    truth[:n_de] = True
    X[:3, :n_de] += effect * rng.choice([-1.0, 1.0], size=n_de)
    return X, np.array(["AD"] * 3 + ["HC"] * 3), truth


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_moderated_t_beats_plain_t_at_three_vs_three(seed):
    X, groups, truth = _power_data(seed)
    mod = moderated_t_test(X, groups, levels=("AD", "HC"))
    plain_p = stats.ttest_ind(X[:3], X[3:], equal_var=True).pvalue
    welch_p = stats.ttest_ind(X[:3], X[3:], equal_var=False).pvalue
    mp = mod["p"].to_numpy()
    tp_mod = int((mp[truth] < 0.01).sum())
    assert tp_mod > int((plain_p[truth] < 0.01).sum())
    assert tp_mod > int((welch_p[truth] < 0.01).sum())
    # at the same nominal threshold the false-positive rate stays near nominal
    assert float((mp[~truth] < 0.01).mean()) < 0.025
    # and at the same nominal FDR more discoveries, mostly true
    q_mod = mod["fdr"].to_numpy()
    q_plain = benjamini_hochberg(plain_p)
    assert int((q_mod[truth] < 0.1).sum()) > int((q_plain[truth] < 0.1).sum())
    called = q_mod < 0.1
    if called.any():
        assert float((~truth[called]).mean()) < 0.25


# ----------------------------------------------------------------- bad input


def test_bad_group_labels():
    X, groups = _two_group_data()
    three = groups.copy()
    three[0] = "MCI"
    with pytest.raises(ValueError, match=r"groups: expected exactly two group labels, got 3"):
        moderated_t_test(X, three)
    with pytest.raises(ValueError, match="groups: expected exactly two"):
        welch_t_test(X, np.array(["AD"] * len(groups)))
    with pytest.raises(ValueError, match=r"groups: has 11 labels but the data have 12"):
        moderated_t_test(X, groups[:-1])
    with pytest.raises(ValueError, match=r"levels: label 'CN' does not occur"):
        moderated_t_test(X, groups, levels=("AD", "CN"))
    with pytest.raises(ValueError, match="levels: expected two labels"):
        welch_t_test(X, groups, levels=("AD",))
    with pytest.raises(ValueError, match="missing label"):
        welch_t_test(X, np.where(np.arange(12) == 0, None, groups))
    with pytest.raises(ValueError, match="at least 2 sample"):
        welch_t_test(X, np.array(["AD"] + ["HC"] * 11))


def test_nan_expression_is_an_error():
    X, groups = _two_group_data()
    X[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"expression: 1 missing \(NaN\)"):
        moderated_t_test(X, groups)


def test_constant_gene_gives_finite_results():
    X, groups = _two_group_data()
    X[:, 0] = 3.0
    res = moderated_t_test(X, groups)
    assert res.loc[0, "t"] == 0 and res.loc[0, "p"] == 1
    w = welch_t_test(X, groups)
    assert w.loc[0, "t"] == 0 and w.loc[0, "p"] == 1
    assert np.isfinite(res["p"]).all() and np.isfinite(w["p"]).all()


# ----------------------------------------------------------------- filter


def test_filter_selects_planted_genes_and_round_trips(tmp_path):
    rng = np.random.default_rng(10)
    X = rng.normal(size=(30, 200))
    X[:10, :8] += 2.5
    y = np.array(["AD"] * 10 + ["MCI"] * 10 + ["HC"] * 10)
    cols = [f"g{i}" for i in range(200)]
    df = pd.DataFrame(X, columns=cols)
    f = DifferentialExpressionFilter(levels=("AD", "HC")).fit(df, y)
    assert f.support_[:8].all()
    assert f.support_[8:].sum() <= 8
    Xt = f.transform(df)
    assert isinstance(Xt, pd.DataFrame) and Xt.shape == (30, int(f.support_.sum()))
    assert list(f.get_feature_names_out()) == list(Xt.columns)
    assert f.transform(X).shape == Xt.shape
    np.testing.assert_array_equal(f.get_support(indices=True), np.flatnonzero(f.support_))
    ref = moderated_t_test(df, y, levels=("AD", "HC"))
    np.testing.assert_allclose(f.pvalues_, ref["p"])
    assert list(f.results_["gene"]) == cols
    # FDR criterion instead of p
    g = clone(f).set_params(fdr=0.05).fit(df, y)
    np.testing.assert_array_equal(g.support_, ref["fdr"].to_numpy() < 0.05)
    w = DifferentialExpressionFilter(method="welch", alpha=0.05, levels=("AD", "HC")).fit(X, y)
    assert np.isnan(w.prior_df_) and w.support_[:8].all()
    from imaging_genetics import load

    path = f.save(tmp_path / "de")
    back = load(path)
    np.testing.assert_array_equal(back.support_, f.support_)
    assert list(back.get_feature_names_out()) == list(f.get_feature_names_out())


def test_filter_errors():
    X, groups = _two_group_data()
    f = DifferentialExpressionFilter()
    with pytest.raises(ValueError, match="needs the group labels"):
        f.fit(X)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        f.transform(X)
    with pytest.raises(ValueError, match="method"):
        DifferentialExpressionFilter(method="limma").fit(X, groups)
    with pytest.raises(ValueError, match="alpha"):
        DifferentialExpressionFilter(alpha=2).fit(X, groups)
    f.set_params(alpha=0.5).fit(X, groups)
    with pytest.raises(ValueError, match="X: has 3 genes"):
        f.transform(X[:, :3])
    with pytest.warns(UserWarning, match="no gene passes"):
        DifferentialExpressionFilter(alpha=1e-12).fit(X, groups)


def test_labels_aligned_by_sample_id():
    X, groups = _two_group_data()
    ids = [f"S{i}" for i in range(12)]
    df = pd.DataFrame(X, index=ids)
    lab = pd.Series(groups, index=ids)
    shuffled = lab.iloc[::-1]
    a = moderated_t_test(df, lab, levels=("AD", "HC"))
    b = moderated_t_test(df, shuffled, levels=("AD", "HC"))
    pd.testing.assert_frame_equal(a, b)
    other = pd.Series(groups, index=[f"T{i}" for i in range(12)])
    with pytest.raises(ValueError, match="groups: sample IDs do not match"):
        welch_t_test(df, other)


# ----------------------------------------------------------------- audit fixes


def test_series_expression_aligned_by_sample_id():
    # a Series of one gene is aligned to labels by sample ID like a one-column table
    X, groups = _two_group_data()
    ids = [f"S{i}" for i in range(12)]
    gene = pd.Series(X[:, 0], index=ids, name="SF3B1")
    lab = pd.Series(groups, index=ids)
    shuffled = lab.iloc[[5, 0, 11, 3, 8, 1, 10, 2, 7, 4, 9, 6]]
    for test in (welch_t_test, moderated_t_test):
        ref = test(gene.to_frame(), lab, levels=("AD", "HC"))
        got = test(gene, shuffled, levels=("AD", "HC"))
        pd.testing.assert_frame_equal(got, ref)
        assert got.loc[0, "gene"] == "SF3B1"
    other = pd.Series(groups, index=[f"T{i}" for i in range(12)])
    with pytest.raises(ValueError, match="groups: sample IDs do not match"):
        welch_t_test(gene, other, levels=("AD", "HC"))


def test_estimated_infinite_prior_keeps_pooled_df_cap():
    # prior_df=inf without prior_var: common variance = pooled variance of all
    # genes, estimated from the data, so t on G*d df (exactly the pooled t-test)
    X, groups = _two_group_data(seed=4, g=3)
    A, B = X[groups == "AD"], X[groups == "HC"]
    d = 10.0
    s2 = ((A - A.mean(0)) ** 2).sum(0) / d + ((B - B.mean(0)) ** 2).sum(0) / d
    res = moderated_t_test(X, groups, levels=("AD", "HC"), prior_df=np.inf)
    assert res.attrs["prior_var"] == pytest.approx(s2.mean(), rel=1e-12)
    assert (res["df"] == 3 * d).all()
    z = (A.mean(0) - B.mean(0)) / np.sqrt(s2.mean() * (1 / 5 + 1 / 7))
    np.testing.assert_allclose(res["t"], z, rtol=1e-10)
    np.testing.assert_allclose(res["p"], 2 * stats.t.sf(np.abs(z), 3 * d), rtol=1e-10)


def test_estimate_prior_equal_variances_gives_their_mean():
    # limma fitFDist (since 2017): evar <= 0 -> df2 = Inf, s20 = mean(x)
    d0, s0sq = estimate_prior(np.full(10, 2.5), 4.0)
    assert np.isinf(d0) and s0sq == pytest.approx(2.5, rel=1e-14)


def test_estimate_prior_floors_zeros_at_median_of_all_variances():
    # limma: x <- pmax(x, 1e-5 * median(x)), the median taken with the zeros
    s2 = np.array([0.0, 0.0, 1.0, 2.0, 3.0, 50.0])  # median 1.5 (positives: 2.5)
    floored = np.maximum(s2, 1e-5 * 1.5)
    d = 4.0
    e = np.log(floored) - special.digamma(d / 2) + np.log(d / 2)
    evar = e.var(ddof=1) - special.polygamma(1, d / 2)
    d0 = 2 * trigamma_inverse(evar)
    s0sq = np.exp(e.mean() + special.digamma(d0 / 2) - np.log(d0 / 2))
    got = estimate_prior(s2, d)
    assert got[0] == pytest.approx(float(d0), rel=1e-10)
    assert got[1] == pytest.approx(float(s0sq), rel=1e-10)


def test_estimate_prior_warns_when_most_variances_are_zero():
    s2 = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0])
    with pytest.warns(UserWarning, match="More than half of the residual variances"):
        d0, s0sq = estimate_prior(s2, 4.0)
    assert np.isfinite(s0sq) and s0sq > 0
    # floor scales with the data (median of the positive variances)
    with pytest.warns(UserWarning, match="More than half"):
        d0b, s0sqb = estimate_prior(s2 * 1e-8, 4.0)
    assert d0b == pytest.approx(d0, rel=1e-8) and s0sqb == pytest.approx(s0sq * 1e-8, rel=1e-8)
    # moderated_t_test on mostly constant genes warns too
    X, groups = _two_group_data(g=5)
    X[:, :3] = 1.0
    with pytest.warns(UserWarning, match="More than half"):
        moderated_t_test(X, groups, levels=("AD", "HC"))


def test_estimate_prior_bad_input():
    with pytest.raises(ValueError, match="variances"):
        estimate_prior([1.0, -0.5, 2.0], 4.0)
    with pytest.raises(ValueError, match="variances"):
        estimate_prior([1.0, np.nan, 2.0], 4.0)
    with pytest.raises(ValueError, match="df"):
        estimate_prior([1.0, 2.0], 0.0)


def test_levels_must_be_a_pair_not_a_string():
    X, groups = _two_group_data()
    with pytest.raises(ValueError, match="levels: expected a pair"):
        moderated_t_test(X, groups, levels="HC")
    with pytest.raises(ValueError, match="levels: expected a pair"):
        welch_t_test(X, groups, levels="AD")
    with pytest.raises(ValueError, match="levels: expected a pair"):
        DifferentialExpressionFilter(levels="HC").fit(X, groups)
    # a list works as well as a tuple
    DifferentialExpressionFilter(levels=["AD", "HC"], alpha=0.5).fit(X, groups)


@pytest.mark.parametrize("bad", ["x", True, [0.1]])
def test_filter_alpha_error_names_alpha(bad):
    X, groups = _two_group_data()
    with pytest.raises(ValueError, match="alpha"):
        DifferentialExpressionFilter(alpha=bad).fit(X, groups)
    with pytest.raises(ValueError, match="fdr"):
        DifferentialExpressionFilter(fdr=bad).fit(X, groups)


def test_filter_needs_alpha_or_fdr():
    X, groups = _two_group_data()
    with pytest.raises(ValueError, match="alpha"):
        DifferentialExpressionFilter(alpha=None).fit(X, groups)
    DifferentialExpressionFilter(alpha=None, fdr=0.5).fit(X, groups)
