"""Pair tables against scipy.stats.pearsonr/spearmanr; heat map; module overlaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from imaging_genetics.biology import benjamini_hochberg, module_overlap_summary, pair_heatmap, top_pairs


def _blocks(seed=0, n=50, pa=25, pb=8):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(n, pa))
    B = rng.normal(size=(n, pb))
    B[:, 2] += 1.5 * A[:, 4]
    B[:, 5] -= 1.0 * A[:, 7]
    return A, B


def test_top_pairs_match_pearsonr_and_bh_over_all_pairs():
    A, B = _blocks()
    res = top_pairs(A, B, top=10)
    assert list(res.columns) == ["snp", "roi", "snp_index", "roi_index", "r", "p", "fdr"]
    assert (res.loc[0, "snp_index"], res.loc[0, "roi_index"]) == (4, 2)
    assert (res.loc[1, "snp_index"], res.loc[1, "roi_index"]) == (7, 5)
    assert np.all(np.diff(np.abs(res["r"])) <= 1e-15)
    all_p = np.array([[stats.pearsonr(A[:, i], B[:, j])[1] for j in range(8)] for i in range(25)])
    q = benjamini_hochberg(all_p)
    for _, row in res.iterrows():
        r, p = stats.pearsonr(A[:, row["snp_index"]], B[:, row["roi_index"]])
        assert row["r"] == pytest.approx(r, abs=1e-12)
        assert row["p"] == pytest.approx(p, rel=1e-8, abs=1e-300)
        assert row["fdr"] == pytest.approx(q[row["snp_index"], row["roi_index"]], rel=1e-8)
    assert res.attrs["n_tests"] == 200
    assert len(top_pairs(A, B, top=None)) == 200


def test_spearman_matches_scipy():
    A, B = _blocks(seed=1)
    res = top_pairs(A, B, top=5, method="spearman")
    for _, row in res.iterrows():
        rho, p = stats.spearmanr(A[:, row["snp_index"]], B[:, row["roi_index"]])
        assert row["r"] == pytest.approx(rho, abs=1e-12)
        assert row["p"] == pytest.approx(p, rel=1e-8)


def test_feature_subsets_names_and_constant_columns():
    A, B = _blocks(seed=2)
    dfA = pd.DataFrame(A, columns=[f"rs{i}" for i in range(25)])
    dfB = pd.DataFrame(B, columns=[f"roi_{j}" for j in range(8)])
    res = top_pairs(dfA, dfB, features_a=[7, 4, 10], names=("gene", "roi"), top=3)
    assert set(res["gene_index"]) <= {4, 7, 10}
    assert res.loc[0, "gene"] == "rs4" and res.loc[0, "roi"] == "roi_2"
    assert res.attrs["n_tests"] == 24
    res2 = top_pairs(dfA, dfB, features_a=["rs4", "rs7", "rs10"], names=("gene", "roi"), top=3)
    pd.testing.assert_frame_equal(res, res2)
    res3 = top_pairs(A, B, labels_a=[f"s{i}" for i in range(25)], top=1)
    assert res3.loc[0, "snp"] == "s4"
    A2 = A.copy()
    A2[:, 4] = 1.0
    with np.errstate(all="raise"):
        res4 = top_pairs(A2, B, top=None)
    assert 4 not in set(res4["snp_index"]) and res4.attrs["n_tests"] == 24 * 8


def test_top_pairs_bad_input():
    A, B = _blocks()
    with pytest.raises(ValueError, match="same samples"):
        top_pairs(A, B[:-1])
    A[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"Xa: 1 missing \(NaN\)"):
        top_pairs(A, B)
    A, B = _blocks()
    with pytest.raises(ValueError, match="features_a: index out of range"):
        top_pairs(A, B, features_a=[30])
    with pytest.raises(ValueError, match="features_b: unknown feature name"):
        top_pairs(A, B, features_b=["nope"])
    with pytest.raises(ValueError, match="method"):
        top_pairs(A, B, method="kendall")
    with pytest.raises(ValueError, match="top"):
        top_pairs(A, B, top=0)
    with pytest.raises(ValueError, match="labels_a: has 2 names"):
        top_pairs(A, B, labels_a=["a", "b"])


def test_pair_heatmap(tmp_path):
    A, B = _blocks()
    fig = pair_heatmap(A, B, names=("gene", "roi"), top=6)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "roi" and ax.get_ylabel() == "gene"
    assert "gene4" in [t.get_text() for t in ax.get_yticklabels()]
    fig.savefig(tmp_path / "hm.png")
    assert (tmp_path / "hm.png").stat().st_size > 1000


def test_module_overlap_summary_counts():
    module = {"roi": [1, 2, 3], "snp": [3, 4], "gene": [4, 5, 3]}
    s = module_overlap_summary(module).set_index("modalities")
    assert s.loc["roi", "n_intersection"] == 3 and s.loc["roi", "n_exclusive"] == 2
    assert s.loc["snp & gene", "n_intersection"] == 2 and s.loc["snp & gene", "n_exclusive"] == 1
    assert s.loc["roi & snp & gene", "n_exclusive"] == 1 and s.loc["roi & snp & gene", "members"] == "3"
    assert s["n_exclusive"].sum() == s.attrs["n_union"] == 5
    # list form with names and index->name mapping
    names = {"snp_genes": ["APOE", "TOMM40", "CLU"], "expr_genes": ["CLU", "APOE", "BIN1", "PICALM"]}
    s2 = module_overlap_summary(
        [np.array([0, 2]), np.array([True, False, True, True])],
        modalities=["snp_genes", "expr_genes"],
        feature_names=names,
    ).set_index("modalities")
    assert s2.loc["snp_genes & expr_genes", "members"] == "CLU"
    assert s2.loc["expr_genes", "members"] == "BIN1;PICALM"
    assert s2.loc["snp_genes", "members"] == "APOE"
    with pytest.raises(ValueError, match="index out of range"):
        module_overlap_summary({"a": [9]}, feature_names={"a": ["x"]})
    with pytest.raises(ValueError, match="unknown modality"):
        module_overlap_summary({"a": [0]}, feature_names={"b": ["x"]})
    with pytest.raises(ValueError, match="modalities: 1 names for 2"):
        module_overlap_summary([[0], [1]], modalities=["a"])


# ----------------------------------------------------------------- audit fixes


@pytest.mark.parametrize(
    "names",
    [("gene", "gene"), ("r", "roi"), ("snp", "p"), ("fdr", "roi"), ("x", "x_index"),
     ("snp_index", "snp"), "ab", ("snp",), ("snp", "")],
)
def test_names_must_give_distinct_columns(names):
    A, B = _blocks()
    with pytest.raises(ValueError, match="names"):
        top_pairs(A, B, names=names)
    with pytest.raises(ValueError, match="names"):
        pair_heatmap(A, B, names=names)


def _indexed(seed=3):
    A, B = _blocks(seed=seed, n=30, pa=8, pb=6)
    ids = [f"S{i:02d}" for i in range(30)]
    dfA = pd.DataFrame(A, index=ids, columns=[f"rs{i}" for i in range(8)])
    dfB = pd.DataFrame(B, index=ids, columns=[f"roi{j}" for j in range(6)])
    return dfA, dfB


def test_indexed_tables_matched_by_sample_id():
    dfA, dfB = _indexed()
    ref = top_pairs(dfA, dfB, top=None)
    shuffled = dfB.sample(frac=1.0, random_state=0)
    got = top_pairs(dfA, shuffled, top=None)
    pd.testing.assert_frame_equal(got, ref)
    # Series (one feature) also carry sample IDs
    got1 = top_pairs(dfA, shuffled["roi2"], top=None)
    np.testing.assert_allclose(
        got1.sort_values("snp_index")["r"], ref[ref["roi"] == "roi2"].sort_values("snp_index")["r"]
    )
    # plain arrays (and a default RangeIndex) stay positional
    pos = top_pairs(dfA.to_numpy(), shuffled.to_numpy(), top=None)
    assert not np.allclose(np.sort(np.abs(pos["r"])), np.sort(np.abs(ref["r"])))
    pos2 = top_pairs(dfA.reset_index(drop=True), shuffled, top=None)
    np.testing.assert_allclose(pos2["r"], pos["r"])
    fig = pair_heatmap(dfA, shuffled, top=3)
    assert fig.axes[0].get_yticklabels()[0].get_text() == ref.loc[0, "snp"]


def test_indexed_tables_with_different_samples_are_an_error():
    dfA, dfB = _indexed()
    other = dfB.rename(index={"S03": "X99"})
    with pytest.raises(ValueError, match=r"1 only in Xa, e.g. \['S03'\]; 1 only in Xb, e.g. \['X99'\]"):
        top_pairs(dfA, other)
    with pytest.raises(ValueError, match=r"1 only in Xa"):
        top_pairs(dfA, dfB.iloc[:-1])
    rep = dfB.rename(index={"S03": "S04"})
    with pytest.raises(ValueError, match="Xb: sample IDs repeat"):
        top_pairs(dfA, rep)


@pytest.mark.parametrize(
    "kw, name",
    [({"features_a": [1, 1]}, "features_a"), ({"features_a": [1, -24]}, "features_a"),
     ({"features_b": ["roi_2", "roi_2"]}, "features_b")],
)
def test_repeated_features_are_an_error(kw, name):
    A, B = _blocks()
    dfB = pd.DataFrame(B, columns=[f"roi_{j}" for j in range(8)])
    with pytest.raises(ValueError, match=f"{name}: selects feature"):
        top_pairs(A, dfB, **kw)


def test_constant_test_does_not_depend_on_scale():
    A, B = _blocks(seed=4, n=30, pa=8, pb=6)
    key = ["snp_index", "roi_index"]
    ref = top_pairs(A, B, top=None).sort_values(key)
    # values 1e9 + 1e-3 a are stored to ~1e-7, a relative error ~1e-4 in a
    for a_scaled, tol in ((A * 1e-13, 1e-12), (A * 1e13, 1e-12), (1e9 + A * 1e-3, 1e-3)):
        got = top_pairs(a_scaled, B, top=None).sort_values(key)
        assert got.attrs["n_tests"] == 48
        np.testing.assert_array_equal(got[key], ref[key])
        np.testing.assert_allclose(got["r"], ref["r"], atol=tol)
    # truly constant columns are still left out, whatever their value
    for c in (1e9, 0.1, 1e-13, 0.0):
        A2 = A.copy()
        A2[:, 1] = c
        got = top_pairs(A2, B, top=None)
        assert 1 not in set(got["snp_index"]) and got.attrs["n_tests"] == 42


def test_module_overlap_summary_non_string_keys():
    s = module_overlap_summary(
        {1: [0, 1], 2: [0, 2]}, feature_names={1: ["APOE", "CLU"], 2: ["APOE", "BIN1", "CLU"]}
    ).set_index("modalities")
    assert s.loc["1 & 2", "members"] == "APOE;CLU"
    assert s.attrs["n_union"] == 2
    with pytest.raises(ValueError, match="module: modality names repeat"):
        module_overlap_summary({1: [0], "1": [1]})
    with pytest.raises(ValueError, match="feature_names: modality keys repeat"):
        module_overlap_summary({1: [0]}, feature_names={1: ["a"], "1": ["b"]})
    with pytest.raises(ValueError, match="modalities: expected one name per member list"):
        module_overlap_summary([[0], [1]], modalities="ab")
