"""Small inputs shared by the reliability tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from imaging_genetics.io import write_plink


def cca_data(n=24, p=6, qs=(4, 4), seed=0):
    """X (n, p) and Ys sharing one latent variable."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 1))
    X = rng.standard_normal((n, p)) + z
    Ys = [rng.standard_normal((n, q)) + z for q in qs]
    return X, Ys


def nmf_data(n=12, sizes=(5, 7), seed=0):
    """Nonnegative matrices with a shared rank-2 structure."""
    rng = np.random.default_rng(seed)
    W = rng.random((n, 2))
    return [W @ rng.random((2, p)) + 0.05 * rng.random((n, p)) for p in sizes]


STUDY_YAML = """
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
  file: clinical.csv
  id_column: subject
  columns: [age, sex]
outcomes:
  file: clinical.csv
  id_column: subject
  columns: [mmse]
cross_adjacency:
  - between: [snp, gene]
    edges: snp_gene.tsv
"""


def write_study(folder: Path, text: str = STUDY_YAML) -> Path:
    """A complete small study (PLINK, CSV, TSV, edge lists) and its YAML file."""
    rng = np.random.default_rng(0)
    ids = [f"sub{i:03d}" for i in range(12)]
    geno = pd.DataFrame(rng.integers(0, 3, (10, 6)).astype(float), index=ids[:10],
                        columns=[f"rs{j}" for j in range(6)])
    bim = pd.DataFrame({"chrom": "1", "snp": geno.columns, "cm": 0.0,
                        "pos": [100, 200, 300, 400, 500, 600], "a1": "A", "a2": "C"})
    (folder / "geno").mkdir(exist_ok=True)
    write_plink(folder / "geno" / "cohort", geno, bim=bim)
    img = pd.DataFrame(rng.normal(size=(10, 3)), columns=["roiA", "roiB", "roiC"])
    img.insert(0, "subject", ids[2:][::-1])
    img.to_csv(folder / "fmri.csv", index=False)
    expr = pd.DataFrame(rng.normal(size=(12, 2)), columns=["APOE", "TOMM40"])
    expr.insert(0, "id", ids)
    expr.to_csv(folder / "expr.tsv", sep="\t", index=False)
    clin = pd.DataFrame({"subject": ids[:11], "age": np.arange(60.0, 71.0),
                         "sex": ["F", "M"] * 5 + ["F"], "mmse": np.arange(11.0)})
    clin.to_csv(folder / "clinical.csv", index=False)
    pd.DataFrame({"a": ["roiA", "roiB"], "b": ["roiB", "roiC"], "w": [0.5, 0.2]}).to_csv(
        folder / "roi_edges.csv", index=False)
    pd.DataFrame({"snp": ["rs0", "rs3"], "gene": ["APOE", "TOMM40"]}).to_csv(
        folder / "snp_gene.tsv", sep="\t", index=False)
    path = folder / "study.yaml"
    path.write_text(textwrap.dedent(text))
    return path
