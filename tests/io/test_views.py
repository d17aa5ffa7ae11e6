from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import imaging_genetics
from imaging_genetics.io import Views


@pytest.fixture
def frames():
    rng = np.random.default_rng(0)
    idx = pd.Index([f"s{i}" for i in range(30)], name="IID")
    snp = pd.DataFrame(rng.integers(0, 3, (30, 5)).astype(float), index=idx, columns=[f"rs{j}" for j in range(5)])
    fmri = pd.DataFrame(rng.normal(size=(30, 4)), index=idx, columns=[f"roi{j}" for j in range(4)])
    return snp, fmri


def test_mapping_and_properties(frames):
    snp, fmri = frames
    cov = pd.DataFrame({"age": np.arange(30.0)}, index=snp.index)
    out = pd.Series(np.ones(30), index=snp.index, name="mmse")
    graph = sp.csr_matrix(np.eye(4)[::-1] + np.eye(4)[[1, 0, 3, 2]])
    graph = (graph + graph.T) / 2
    cross = sp.random(5, 4, density=0.5, random_state=0)
    v = Views({"snp": snp, "fmri": fmri}, kinds={"snp": "genotype", "fmri": "imaging"},
              graphs={"fmri": graph, "snp": "correlation"}, cross_adjacency={("snp", "fmri"): cross},
              covariates=cov, outcomes=out)
    assert v.names == ["snp", "fmri"] and list(v) == ["snp", "fmri"] and len(v) == 2
    assert v.n_samples == 30
    assert v.n_features == {"snp": 5, "fmri": 4}
    assert v.kinds == {"snp": "genotype", "fmri": "imaging"} and v.kind("fmri") == "imaging"
    pd.testing.assert_frame_equal(v["fmri"], fmri, check_index_type=False)
    assert v.feature_names("snp") == [f"rs{j}" for j in range(5)]
    a, b = v.arrays()
    assert a.shape == (30, 5) and b.dtype == np.float64
    assert [x.shape for x in v.arrays(["fmri"])] == [(30, 4)]
    assert v.graph("fmri").shape == (4, 4) and sp.issparse(v.graph("fmri"))
    g = v.graph("snp")
    assert g.shape == (5, 5) and g.diagonal().sum() == 0
    assert v.cross_adjacency[("snp", "fmri")].shape == (5, 4)
    assert v.outcomes.columns.tolist() == ["mmse"]
    assert "Views(n_samples=30" in repr(v)
    assert imaging_genetics.Views is Views
    with pytest.raises(KeyError, match="no modality 'dmri'"):
        v["dmri"]


def test_subset_for_cv_folds(frames):
    snp, fmri = frames
    cov = pd.DataFrame({"age": np.arange(30.0)}, index=snp.index)
    v = Views({"snp": snp, "fmri": fmri}, covariates=cov, graphs={"fmri": "correlation"})
    train = v.subset(np.arange(20))
    assert train.n_samples == 20
    assert train.sample_index.tolist() == [f"s{i}" for i in range(20)]
    assert train.covariates.index.equals(train.sample_index)
    # The correlation rule is evaluated on the fold's own samples.
    from imaging_genetics.networks import correlation_graph

    np.testing.assert_allclose(train.graph("fmri").toarray(), correlation_graph(fmri.iloc[:20].to_numpy()).toarray())
    assert v.subset(np.arange(30)) == v and train != v and (v == 3) is False
    mask = np.zeros(30, bool)
    mask[[3, 7]] = True
    assert v.subset(mask).sample_index.tolist() == ["s3", "s7"]
    assert v.subset(["s9", "s1"]).sample_index.tolist() == ["s9", "s1"]
    with pytest.raises(ValueError, match="unknown sample ID"):
        v.subset(["nobody"])
    with pytest.raises(ValueError, match="boolean mask"):
        v.subset(np.ones(3, bool))


def test_from_arrays():
    rng = np.random.default_rng(1)
    v = Views.from_arrays([rng.normal(size=(10, 3)), rng.normal(size=(10, 2))], names=["x", "y"],
                          kinds=["genotype", "imaging"], outcomes=np.arange(10.0))
    assert v.names == ["x", "y"] and v.kinds["y"] == "imaging"
    assert v.feature_names("y") == ["y_0", "y_1"]
    assert v.sample_index.tolist() == [str(i) for i in range(10)]
    assert v.outcomes.shape == (10, 1)
    v = Views.from_arrays({"a": np.zeros((4, 2))}, sample_ids=list("pqrs"), feature_names={"a": ["u", "w"]})
    assert v["a"].columns.tolist() == ["u", "w"] and v.sample_index.tolist() == list("pqrs")
    with pytest.raises(ValueError, match=r"arrays\['b'\]: has 3 rows but the first array has 4"):
        Views.from_arrays({"a": np.zeros((4, 2)), "b": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="expected 2-D"):
        Views.from_arrays({"a": np.zeros(4)})


def test_alignment_is_validated(frames):
    snp, fmri = frames
    with pytest.raises(ValueError, match="modality 'fmri': same sample IDs .* different order"):
        Views({"snp": snp, "fmri": fmri.iloc[::-1]})
    with pytest.raises(ValueError, match=r"modality 'fmri': sample IDs differ .*only in 'snp': \['s0'\]"):
        Views({"snp": snp, "fmri": fmri.iloc[1:]})
    with pytest.raises(ValueError, match="covariates: sample IDs differ"):
        Views({"snp": snp}, covariates=pd.DataFrame({"age": [1.0]}, index=["s0"]))
    dup = snp.copy()
    dup.index = ["s0"] * 30
    with pytest.raises(ValueError, match="duplicated sample IDs"):
        Views({"snp": dup})


def test_bad_blocks(frames):
    snp, fmri = frames
    with pytest.raises(ValueError, match=r"modality 'fmri': non-numeric column\(s\) \['site'\]"):
        Views({"fmri": fmri.assign(site="a")})
    bad = fmri.copy()
    bad.iloc[0, 2] = np.inf
    with pytest.raises(ValueError, match=r"modality 'fmri': 1 infinite value\(s\) in column\(s\) \['roi2'\]"):
        Views({"fmri": bad})
    with pytest.raises(ValueError, match="modality 'fmri': unknown kind 'mri'"):
        Views({"fmri": fmri}, kinds={"fmri": "mri"})
    with pytest.raises(ValueError, match="kinds: unknown modality"):
        Views({"fmri": fmri}, kinds={"dmri": "imaging"})
    with pytest.raises(ValueError, match=r"graphs\['fmri'\]: expected shape \(4, 4\)"):
        Views({"fmri": fmri}, graphs={"fmri": sp.eye(3)})
    with pytest.raises(ValueError, match=r"graphs\['fmri'\]: unknown rule 'pearson'"):
        Views({"fmri": fmri}, graphs={"fmri": "pearson"})
    with pytest.raises(ValueError, match=r"cross_adjacency.*expected shape \(5, 4\)"):
        Views({"snp": snp, "fmri": fmri}, cross_adjacency={("snp", "fmri"): sp.eye(4)})
    with pytest.raises(ValueError, match="cross_adjacency.*unknown modality 'gene'"):
        Views({"snp": snp}, cross_adjacency={("snp", "gene"): sp.eye(5)})
    with pytest.raises(ValueError, match="used twice"):
        Views([("a", snp), ("a", snp)])
    with pytest.raises(ValueError, match="at least one modality"):
        Views({})
    # Missing genotype calls are allowed (imputed later).
    g = snp.copy()
    g.iloc[0, 0] = np.nan
    assert np.isnan(Views({"snp": g})["snp"].iloc[0, 0])


def test_feature_info_order_infinite_covariates_and_cross_pairs():
    rng = np.random.default_rng(0)
    G = pd.DataFrame(rng.integers(0, 3, (20, 4)).astype(float), columns=["rs0", "rs1", "rs2", "rs3"])
    bim = pd.DataFrame({"chrom": ["1", "1", "2", "3"], "snp": ["rs0", "rs1", "rs2", "rs3"], "pos": [1, 2, 1, 2]})
    Views({"snp": G}, feature_info={"snp": bim})
    with pytest.raises(ValueError, match=r"feature_info\['snp'\]: its 'snp' column is not in the order"):
        Views({"snp": G}, feature_info={"snp": bim.iloc[::-1]})  # LD windows would use the wrong SNPs
    cov = pd.DataFrame({"age": np.r_[np.inf, np.arange(19.0)]}, index=G.index)
    with pytest.raises(ValueError, match=r"covariates: column 'age' has 1 infinite value"):
        Views({"snp": G}, covariates=cov)
    Y = pd.DataFrame(rng.normal(size=(20, 3)), columns=["a", "b", "c"])
    with pytest.raises(ValueError, match="links a modality to itself"):
        Views({"snp": G, "roi": Y}, cross_adjacency={("roi", "roi"): np.ones((3, 3))})
    with pytest.raises(ValueError, match=r"the pair \('roi', 'snp'\) is given twice"):
        Views({"snp": G, "roi": Y}, cross_adjacency={("snp", "roi"): np.ones((4, 3)), ("roi", "snp"): np.ones((3, 4))})
