from __future__ import annotations

import logging
import textwrap

import numpy as np
import pandas as pd
import pytest

from imaging_genetics.io import Views, load_study, write_plink


@pytest.fixture
def study_dir(tmp_path):
    rng = np.random.default_rng(0)
    ids = [f"sub{i:03d}" for i in range(12)]
    # Genotypes for sub000..sub009 (PLINK).
    geno = pd.DataFrame(rng.integers(0, 3, (10, 6)).astype(float), index=ids[:10],
                        columns=[f"rs{j}" for j in range(6)])
    bim = pd.DataFrame({"chrom": ["1"] * 3 + ["2"] * 3, "snp": geno.columns, "cm": 0.0,
                        "pos": [100, 200, 300, 100, 200, 300], "a1": "A", "a2": "C"})
    (tmp_path / "geno").mkdir()
    write_plink(tmp_path / "geno" / "cohort", geno, bim=bim)
    # Imaging for sub002..sub011, different order (CSV).
    img = pd.DataFrame(rng.normal(size=(10, 3)), columns=["roiA", "roiB", "roiC"])
    img.insert(0, "subject", ids[2:][::-1])
    img.to_csv(tmp_path / "fmri.csv", index=False)
    # Expression for every sample (TSV).
    expr = pd.DataFrame(rng.normal(size=(12, 2)), columns=["APOE", "TOMM40"])
    expr.insert(0, "id", ids)
    expr.to_csv(tmp_path / "expr.tsv", sep="\t", index=False)
    # Clinical table: sub011 missing; sex as text.
    clin = pd.DataFrame({"subject": ids[:11], "age": np.arange(60.0, 71.0),
                         "sex": ["F", "M"] * 5 + ["F"], "mmse": np.arange(11.0), "site": "x"})
    clin.to_parquet(tmp_path / "clinical.parquet", index=False)
    pd.DataFrame({"a": ["roiA", "roiB", "roiZ"], "b": ["roiB", "roiC", "roiA"], "w": [0.5, 0.2, 1.0]}).to_csv(
        tmp_path / "roi_edges.csv", index=False)
    pd.DataFrame({"snp": ["rs0", "rs3"], "gene": ["APOE", "TOMM40"]}).to_csv(
        tmp_path / "snp_gene.tsv", sep="\t", index=False)
    return tmp_path


YAML = """
modalities:
  - name: snp
    plink: geno/cohort
    kind: genotype
    graph: ld
  - name: fmri
    file: fmri.csv
    id_column: subject
    kind: imaging
    features: [roiA, roiB, roiC]
    graph: {edges: roi_edges.csv, source: a, target: b, weight: w}
  - name: gene
    file: expr.tsv
    id_column: id
    kind: expression
    graph: correlation
covariates:
  file: clinical.parquet
  id_column: subject
  columns: [age, sex]
outcome:
  file: clinical.parquet
  id_column: subject
  columns: [mmse]
cross_adjacency:
  - between: [snp, gene]
    edges: snp_gene.tsv
"""


def write_yaml(folder, text=YAML, name="study.yaml"):
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def test_study_round_trip(study_dir, caplog):
    with caplog.at_level(logging.INFO, logger="imaging_genetics"):
        views = load_study(write_yaml(study_dir))
    assert isinstance(views, Views)
    assert views.names == ["snp", "fmri", "gene"]
    assert views.kinds == {"snp": "genotype", "fmri": "imaging", "gene": "expression"}
    # Inner join in the order of the first modality: sub002..sub009.
    expected = [f"sub{i:03d}" for i in range(2, 10)]
    assert views.sample_index.tolist() == expected
    for name in views:
        assert views[name].index.tolist() == expected
    # Values follow the IDs, not the file order.
    fmri = pd.read_csv(study_dir / "fmri.csv").set_index("subject")
    np.testing.assert_allclose(views["fmri"].to_numpy(), fmri.loc[expected].to_numpy())
    # Covariates: sex one-hot encoded (reference F), outcomes kept.
    assert views.covariates.columns.tolist() == ["age", "sex_M"]
    assert views.covariates["sex_M"].tolist() == [0.0, 1.0] * 4
    assert views.outcomes["mmse"].tolist() == [float(i) for i in range(2, 10)]
    # Graphs: edge list (unknown roiZ dropped with a log entry), rules kept for later.
    g = views.graph("fmri").toarray()
    assert g[0, 1] == 0.5 and g[1, 0] == 0.5 and g[1, 2] == 0.2 and g.sum() == pytest.approx(1.4)
    assert views.graphs["gene"] == "correlation" and views.graphs["snp"] == "ld"
    ld = views.graph("snp", r2_threshold=0.0)
    assert ld.shape == (6, 6)
    assert ld[0, 3] == 0 and ld[0, 5] == 0  # different chromosomes are never linked
    assert views.feature_info("snp")["pos"].tolist() == [100, 200, 300, 100, 200, 300]
    cross = views.cross_adjacency[("snp", "gene")].toarray()
    assert cross.shape == (6, 2) and cross[0, 0] == 1 and cross[3, 1] == 1 and cross.sum() == 2
    # Drop report: per file, how many and why.
    rep = views.alignment_report
    assert rep.loc["snp", "n_in_file"] == 10 and rep.loc["snp", "n_dropped"] == 2
    assert rep.loc["snp", "reason"] == "2 not in fmri"
    assert rep.loc["fmri", "n_dropped"] == 2
    assert rep.loc["fmri", "reason"] == "2 not in snp; 1 not in covariates; 1 not in outcomes"
    assert rep.loc["gene", "n_dropped"] == 4
    assert rep.loc["covariates", "n_kept"] == 8
    assert rep["file"].str.endswith(("cohort.bed", "fmri.csv", "expr.tsv", "clinical.parquet")).all()
    assert "fmri (" in caplog.text and "dropped 2 of 10 samples" in caplog.text
    assert "8 samples aligned" in caplog.text


def test_modalities_as_mapping_and_absolute_paths(study_dir):
    text = f"""
    modalities:
      fmri: {{file: {study_dir / 'fmri.csv'}, id_column: subject, kind: imaging}}
      gene: {{file: expr.tsv, id_column: id}}
    """
    views = load_study(write_yaml(study_dir, text))
    assert views.names == ["fmri", "gene"]
    assert views.kinds["gene"] == "other"
    assert views.n_samples == 10
    assert views.covariates is None and views.outcomes is None


def bad(study_dir, text, exc, pattern):
    with pytest.raises(exc, match=pattern):
        load_study(write_yaml(study_dir, text))


def test_unknown_key_named(study_dir):
    bad(study_dir, YAML.replace("kind: imaging", "kind: imaging\n    smoothing: 3"), ValueError,
        r"study\.yaml: invalid study file:\n  unknown key 'smoothing' in modalities\.1 \(modality 'fmri'\)")
    bad(study_dir, YAML + "\nextras: 1\n", ValueError, r"unknown key 'extras' at the top level")


def test_unknown_kind_and_missing_keys(study_dir):
    bad(study_dir, YAML.replace("kind: imaging", "kind: mri"), ValueError, r"modalities\.1\.kind \(modality 'fmri'\).*'imaging'")
    bad(study_dir, "modalities:\n  - name: a\n    kind: other\n", ValueError, r"exactly one of 'file'.*or 'plink'")
    bad(study_dir, "covariates: {file: x.csv}\n", ValueError, r"missing required key 'modalities'")
    bad(study_dir, "modalities:\n  - {name: a, file: fmri.csv, graph: ld}\n", ValueError, "graph 'ld' needs")
    bad(study_dir, YAML.replace("between: [snp, gene]", "between: [snp, dmri]"), ValueError,
        "unknown modality 'dmri'")
    bad(study_dir, "- just a list\n", ValueError, "expected a mapping")
    bad(study_dir, "modalities: [\n", ValueError, "not valid YAML")


def test_missing_files_named(study_dir):
    bad(study_dir, YAML.replace("fmri.csv", "fmri_v2.csv"), FileNotFoundError, r"fmri_v2\.csv: file not found")
    bad(study_dir, YAML.replace("geno/cohort", "geno/other"), FileNotFoundError, r"other\.bim")
    bad(study_dir, YAML.replace("roi_edges.csv", "edges.csv"), FileNotFoundError, r"edges\.csv")
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_study(study_dir / "nope.yaml")


def test_ids_matching_nothing(study_dir):
    pd.DataFrame({"subject": ["A1", "A2"], "x": [1.0, 2.0]}).to_csv(study_dir / "other.csv", index=False)
    text = YAML.replace("file: expr.tsv\n    id_column: id", "file: other.csv\n    id_column: subject")
    bad(study_dir, text, ValueError, r"other\.csv \(gene\): none of its 2 IDs .*'A1'.*cohort\.bed.*check id_column")


def test_bad_columns_named(study_dir):
    bad(study_dir, YAML.replace("id_column: subject\n    kind", "id_column: subj\n    kind"), ValueError,
        r"fmri\.csv: no ID column 'subj'")
    bad(study_dir, YAML.replace("[roiA, roiB, roiC]", "[roiA, roiQ]"), ValueError, r"fmri\.csv: column\(s\) \['roiQ'\]")
    bad(study_dir, YAML.replace("columns: [mmse]", "columns: [site]"), ValueError,
        r"clinical\.parquet: outcome column\(s\) \['site'\] are not numeric")
    bad(study_dir, YAML.replace("weight: w", "weight: strength"), ValueError,
        r"roi_edges\.csv \(graph for fmri\).*no weight column 'strength'")
    bad(study_dir, YAML.replace("- name: snp\n    plink: geno/cohort", "- name: snp\n    plink: geno/cohort\n    features: [rs0, rs99]"),
        ValueError, r"not found in .*cohort\.bim.*rs99")


def test_duplicated_ids_named(study_dir):
    frame = pd.read_csv(study_dir / "fmri.csv")
    frame.loc[3, "subject"] = frame.loc[0, "subject"]
    frame.to_csv(study_dir / "fmri.csv", index=False)
    bad(study_dir, YAML, ValueError, r"fmri\.csv: 1 duplicated ID\(s\) in column 'subject'")


def test_graph_spec_errors(study_dir):
    bad(study_dir, YAML.replace("weight: w}", "weight: w, colour: red}"), ValueError,
        r"unknown key 'colour' in modalities\.1\.graph \(modality 'fmri'\)")
    bad(study_dir, YAML.replace("graph: correlation", "graph: 3"), ValueError,
        r"modalities\.2\.graph \(modality 'gene'\): Input should be 'correlation' or 'ld', an edge-list file path")


def test_graph_as_bare_path_and_feature_selection(study_dir):
    text = YAML.replace("graph: {edges: roi_edges.csv, source: a, target: b, weight: w}", "graph: roi_edges.csv")
    text = text.replace("plink: geno/cohort", "plink: geno/cohort\n    features: [rs4, rs1]")
    text = text[: text.index("cross_adjacency")]
    views = load_study(write_yaml(study_dir, text))
    assert views.feature_names("snp") == ["rs4", "rs1"]
    assert views.feature_info("snp")["snp"].tolist() == ["rs4", "rs1"]
    # Default edge-list columns: the first two; 'w' is not called 'weight', so weights are 1.
    assert views.graph("fmri")[0, 1] == 1.0
    assert views.graph("snp", r2_threshold=0.0).shape == (2, 2)


def test_nmf_module_rule_is_checked_when_the_study_is_read():
    from pydantic import ValidationError

    from imaging_genetics.io.study import NMFAnalysisSpec

    spec = NMFAnalysisSpec(modalities=["a", "b"])
    assert (spec.module_rule, spec.module_orientation, spec.module_threshold) == ("zscore", "row", None)
    assert NMFAnalysisSpec(modalities=["a", "b"], module_rule="topk", module_threshold=5).module_threshold == 5
    assert NMFAnalysisSpec(modalities=["a", "b"], module_threshold=[1.5, 2.5]).module_threshold == [1.5, 2.5]
    for bad, match in ((dict(module_rule="otsu", module_threshold=2.0), "otsu"),
                       (dict(module_rule="topk"), "number of members"),
                       (dict(module_threshold=[1.0, 2.0, 3.0]), "2 values"),
                       (dict(module_rule="median"), "module_rule")):
        with pytest.raises(ValidationError, match=match):
            NMFAnalysisSpec(modalities=["a", "b"], **bad)


def test_analysis_parameter_names_are_checked_when_the_study_is_read(study_dir):
    from imaging_genetics.io.study import CCAAnalysisSpec, NMFAnalysisSpec, read_study_spec

    # a key of some listed models is accepted (applied where it is a parameter)
    spec = CCAAnalysisSpec(genotype="snp", imaging=["fmri"], models=["SCCA", "JCBSCCA"], params={"fusion": 0.5},
                           param_grid={"smoothness_x": [0.1, 1.0]})
    assert spec.params == {"fusion": 0.5}
    assert NMFAnalysisSpec(modalities=["a"], models=["JNMF", "JCBSNMF"], params={"smoothness": 1.0}).params
    # a key of none is an error naming the key, the section, the models and the valid names
    cca = "analyses:\n  cca: {genotype: snp, imaging: [fmri], models: [MTS2CCA, SCCA], %s}\n"
    bad(study_dir, YAML + cca % "param_grid: {sparsty_x: [0.1, 1.0]}", ValueError,
        r"invalid study file:\n  analyses\.cca\.param_grid: 'sparsty_x' is not a parameter of any listed model "
        r"\(MTS2CCA, SCCA\) \(did you mean 'sparsity_x'\?\); valid names: \['copy', 'covariance', 'init', 'max_iter'")
    bad(study_dir, YAML + cca % "params: {max_itr: 100}", ValueError, r"analyses\.cca\.params: 'max_itr'.*'max_iter'")
    bad(study_dir, YAML + cca % "params: {fusion: 1.0}", ValueError, r"analyses\.cca\.params: 'fusion' is not")
    nmf = "analyses:\n  nmf: {modalities: [fmri, gene], models: [JNMF], params: {sparsity: 1.0}}\n"
    with pytest.raises(ValueError, match=r"analyses\.nmf\.params: 'sparsity' is not a parameter of any listed "
                                         r"model \(JNMF\)"):
        read_study_spec(write_yaml(study_dir, YAML + nmf))


def test_cross_adjacency_pairs_checked(study_dir):
    from imaging_genetics.io.study import read_study_spec

    twice = YAML + "  - between: [gene, snp]\n    edges: snp_gene.tsv\n"
    bad(study_dir, twice, ValueError, r"cross_adjacency between \['gene', 'snp'\]: this pair is given twice")
    itself = YAML.replace("between: [snp, gene]", "between: [snp, snp]")
    bad(study_dir, itself, ValueError, r"cross_adjacency between \['snp', 'snp'\]: links a modality to itself")
    # found with the study file itself, before any data file is read
    for text in (twice, itself):
        with pytest.raises(ValueError, match=r"invalid study file:\n  .*cross_adjacency between"):
            read_study_spec(write_yaml(study_dir, text))
