"""Marker ROC: AUC against scikit-learn, DeLong variance against an O(n²) computation
and the bootstrap, labels and figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from imaging_genetics.biology import delong_variance, marker_roc, plot_marker_roc


def _data(seed=0, m=30, n=40, shift=0.8, k=3, ties=False):
    rng = np.random.default_rng(seed)
    S = rng.normal(size=(m + n, k))
    S[:m, 0] += shift
    if k > 1:
        S[:m, 1] += shift / 2
    if ties:
        S = np.round(S, 0)
    y = np.array(["AD"] * m + ["HC"] * n, dtype=object)
    return pd.DataFrame(S, columns=[f"gene{j}" for j in range(k)]), y


def _delong_direct(pos, neg):
    """Independent O(m·n) DeLong (1988): psi kernel and its row/column means."""
    psi = (pos[:, None] > neg[None, :]).astype(float) + 0.5 * (pos[:, None] == neg[None, :])
    v10 = psi.mean(axis=1)
    v01 = psi.mean(axis=0)
    m, n = pos.size, neg.size
    s10 = ((v10 - psi.mean()) ** 2).sum() / (m - 1)
    s01 = ((v01 - psi.mean()) ** 2).sum() / (n - 1)
    return psi.mean(), s10 / m + s01 / n


@pytest.mark.parametrize("ties", [False, True])
def test_auc_matches_sklearn_and_delong_matches_direct(ties):
    S, y = _data(ties=ties)
    table = marker_roc(S, y, positive="AD")
    yb = (y == "AD").astype(int)
    for j, col in enumerate(S.columns):
        assert table.loc[j, "auc"] == pytest.approx(roc_auc_score(yb, S[col]), abs=1e-12)
        auc, var = delong_variance(S[col].to_numpy(), yb)
        a2, v2 = _delong_direct(S[col].to_numpy()[yb == 1], S[col].to_numpy()[yb == 0])
        assert auc == pytest.approx(a2, abs=1e-12)
        assert var == pytest.approx(v2, rel=1e-10)
        assert table.loc[j, "se"] == pytest.approx(np.sqrt(v2), rel=1e-10)


def test_delong_variance_agrees_with_bootstrap_variance():
    S, y = _data(seed=2, m=150, n=200, k=1)
    s = S.iloc[:, 0].to_numpy()
    yb = (y == "AD").astype(int)
    _, var = delong_variance(s, yb)
    rng = np.random.default_rng(0)
    pos, neg = s[yb == 1], s[yb == 0]
    # independent bootstrap: AUC = U / (m n) from scipy's Mann–Whitney U
    pb = pos[rng.integers(0, pos.size, size=(600, pos.size))]
    nb = neg[rng.integers(0, neg.size, size=(600, neg.size))]
    boots = stats.mannwhitneyu(pb, nb, axis=1).statistic / (pos.size * neg.size)
    assert np.var(boots, ddof=1) == pytest.approx(var, rel=0.2)
    # the package's own bootstrap gives the same se
    tb = marker_roc(S, y, positive="AD", method="bootstrap", n_bootstraps=1000, random_state=1)
    assert tb.loc[0, "se"] == pytest.approx(np.sqrt(var), rel=0.15)


def test_ci_and_p_value_are_wald_on_delong_se():
    S, y = _data(seed=3, shift=1.5)
    t = marker_roc(S, y, positive="AD", confidence=0.95)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(t["ci_low"], np.clip(t["auc"] - z * t["se"], 0, 1))
    np.testing.assert_allclose(t["ci_high"], np.clip(t["auc"] + z * t["se"], 0, 1))
    np.testing.assert_allclose(t["p"], 2 * stats.norm.sf(np.abs((t["auc"] - 0.5) / t["se"])))
    assert t.loc[0, "p"] < 0.01 and (t["ci_low"] <= t["auc"]).all() and (t["auc"] <= t["ci_high"]).all()
    t90 = marker_roc(S, y, positive="AD", confidence=0.9)
    assert (t90["ci_high"] - t90["ci_low"] < t["ci_high"] - t["ci_low"]).all()
    assert list(t["n_positive"]) == [30] * 3 and list(t["n_negative"]) == [40] * 3


def test_bootstrap_is_seeded():
    S, y = _data(seed=4)
    a = marker_roc(S, y, positive="AD", method="bootstrap", n_bootstraps=300, random_state=7)
    b = marker_roc(S, y, positive="AD", method="bootstrap", n_bootstraps=300, random_state=7)
    c = marker_roc(S, y, positive="AD", method="bootstrap", n_bootstraps=300, random_state=8)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["ci_low"], c["ci_low"])


def test_direction_and_default_positive():
    S, y = _data(seed=5)
    neg = marker_roc(-S, y, positive="AD")
    auto = marker_roc(-S, y, positive="AD", direction="auto")
    less = marker_roc(-S, y, positive="AD", direction="less")
    pos = marker_roc(S, y, positive="AD")
    np.testing.assert_allclose(neg["auc"], 1 - pos["auc"])
    np.testing.assert_allclose(less["auc"], pos["auc"])
    assert auto.loc[0, "direction"] == "less" and auto.loc[0, "auc"] == pytest.approx(pos.loc[0, "auc"])
    np.testing.assert_allclose(neg["p"], pos["p"])
    # 0/1 labels: 1 is positive by default; strings: the second sorted label
    yb = (y == "AD").astype(int)
    np.testing.assert_allclose(marker_roc(S, yb)["auc"], pos["auc"])
    np.testing.assert_allclose(marker_roc(S, y)["auc"], 1 - pos["auc"])  # "HC" positive


def test_two_of_three_groups_and_feature_selection():
    S, y = _data(seed=6)
    y3 = y.copy()
    y3[-10:] = "MCI"
    t = marker_roc(S, y3, positive="AD", negative="HC", features=["gene0"])
    keep = y3 != "MCI"
    assert len(t) == 1 and t.loc[0, "n_negative"] == 30
    assert t.loc[0, "auc"] == pytest.approx(
        roc_auc_score((y3[keep] == "AD").astype(int), S["gene0"].to_numpy()[keep])
    )
    rest = marker_roc(S.to_numpy()[:, 0], y3, positive="AD")  # AD vs all others
    assert rest.loc[0, "n_negative"] == 40


def test_bad_input():
    S, y = _data(seed=7)
    y3 = y.copy()
    y3[0] = "MCI"
    with pytest.raises(ValueError, match="diagnosis: expected exactly two labels, got 3"):
        marker_roc(S, y3)
    with pytest.raises(ValueError, match="diagnosis: has 69 labels but scores have 70"):
        marker_roc(S, y[:-1])
    with pytest.raises(ValueError, match="positive: label 'CN' does not occur"):
        marker_roc(S, y, positive="CN")
    bad = S.copy()
    bad.iloc[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"scores: 1 missing \(NaN\).*gene1"):
        marker_roc(bad, y)
    with pytest.raises(ValueError, match="method"):
        marker_roc(S, y, method="hanley")
    with pytest.raises(ValueError, match="at least 2 positive"):
        marker_roc(S, np.array(["AD"] + ["HC"] * 69), positive="AD")


def test_plot_marker_roc(tmp_path):
    S, y = _data(seed=8)
    fig = plot_marker_roc(S, y, positive="AD")
    ax = fig.axes[0]
    assert "false positive" in ax.get_xlabel() and "sensitivity" in ax.get_ylabel()
    assert len(ax.get_lines()) == 4  # three markers + chance line
    assert "AUC" in ax.get_legend().get_texts()[0].get_text()
    fig.savefig(tmp_path / "roc.png")
    assert (tmp_path / "roc.png").stat().st_size > 1000


def test_series_scores_aligned_to_labels_by_sample_id():
    S, y = _data(k=1)
    ids = [f"S{i}" for i in range(len(y))]
    scores = pd.Series(S["gene0"].to_numpy(), index=ids, name="SF3B1")
    dx = pd.Series(y, index=ids)
    shuffled = dx.sample(frac=1.0, random_state=1)
    ref = marker_roc(scores.to_frame(), dx, positive="AD")
    got = marker_roc(scores, shuffled, positive="AD")
    pd.testing.assert_frame_equal(got, ref)
    assert got.loc[0, "feature"] == "SF3B1"
    # ... and differs from pairing the shuffled labels by row order
    assert marker_roc(scores.to_numpy(), shuffled.to_numpy(), positive="AD")["auc"][0] != ref["auc"][0]
    with pytest.raises(ValueError, match="diagnosis: sample IDs do not match"):
        marker_roc(scores, pd.Series(y, index=[f"T{i}" for i in range(len(y))]), positive="AD")
    fig = plot_marker_roc(scores, shuffled, positive="AD")
    assert fig.axes[0].get_legend().get_texts()[0].get_text().startswith(
        f"SF3B1: AUC {ref['auc'][0]:.3f}"
    )


@pytest.mark.parametrize("bad, error", [(0, ValueError), (1, ValueError), (-5, ValueError),
                                        (2.7, TypeError), (True, TypeError), ("100", TypeError)])
def test_n_bootstraps_must_be_an_integer_of_at_least_two(bad, error):
    S, y = _data(k=1)
    with pytest.raises(error, match="n_bootstraps"):
        marker_roc(S, y, positive="AD", method="bootstrap", n_bootstraps=bad)


def test_n_bootstraps_accepts_numpy_integers():
    S, y = _data(k=1)
    a = marker_roc(S, y, positive="AD", method="bootstrap", n_bootstraps=np.int64(50), random_state=0)
    b = marker_roc(S, y, positive="AD", method="bootstrap", n_bootstraps=50, random_state=0)
    pd.testing.assert_frame_equal(a, b)
    two = marker_roc(S, y, positive="AD", method="bootstrap", n_bootstraps=2, random_state=0)
    assert np.isfinite(two[["se", "ci_low", "ci_high", "p"]].to_numpy()).all()


def test_delong_variance_takes_labelled_labels_by_sample():
    S, y = _data()
    ids = [f"S{i:03d}" for i in range(len(y))]
    scores = pd.Series(S["gene0"].to_numpy(), index=ids)
    labels = pd.Series((y == "AD").astype(int), index=ids)
    expected = delong_variance(scores.to_numpy(), labels.to_numpy())
    assert delong_variance(scores, labels.iloc[::-1]) == expected  # looked up by ID
    with pytest.raises(ValueError, match=r"labels: sample IDs do not match the data's rows \(1 without a label"):
        delong_variance(scores, labels.iloc[1:])
