"""GMT reading, hypergeometric enrichment against scipy, SNP-to-gene mapping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from imaging_genetics.biology import benjamini_hochberg, enrichment, read_gmt, snps_to_genes


def _write(path, text):
    path.write_text(text)
    return path


def test_read_gmt(tmp_path):
    p = _write(
        tmp_path / "sets.gmt",
        "# comment\nKEGG_TLR\tToll-like receptor\tTLR4\tMTOR\tTLR4\n\nGO_SPLICE\thttp://x\tSF3B1\tSRRM1\t\n",
    )
    sets = read_gmt(p)
    assert sets == {"KEGG_TLR": ["TLR4", "MTOR"], "GO_SPLICE": ["SF3B1", "SRRM1"]}
    sets2, desc = read_gmt(p, with_descriptions=True)
    assert desc["KEGG_TLR"] == "Toll-like receptor" and sets2 == sets


def test_read_gmt_errors_name_file_and_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.gmt"):
        read_gmt(tmp_path / "missing.gmt")
    p = _write(tmp_path / "bad.gmt", "A\tdesc\tG1\tG2\nB desc G3 G4\n")
    with pytest.raises(ValueError, match=r"bad\.gmt:2: .*at least 3 tab-separated fields"):
        read_gmt(p)
    p = _write(tmp_path / "dup.gmt", "A\td\tG1\n\nA\td\tG2\n")
    with pytest.raises(ValueError, match=r"dup\.gmt:3: gene set 'A' already defined on line 1"):
        read_gmt(p)
    p = _write(tmp_path / "empty.gmt", "A\td\t\t\n")
    with pytest.raises(ValueError, match=r"empty\.gmt:1: gene set 'A' lists no genes"):
        read_gmt(p)
    p = _write(tmp_path / "noname.gmt", "\td\tG1\n")
    with pytest.raises(ValueError, match=r"noname\.gmt:1: empty gene-set name"):
        read_gmt(p)


def test_enrichment_matches_scipy_hypergeom(tmp_path):
    rng = np.random.default_rng(0)
    background = [f"G{i}" for i in range(500)]
    module = list(rng.choice(background[:100], 30, replace=False)) + list(
        rng.choice(background[100:], 20, replace=False)
    )
    sets = {
        "planted": background[:100] + ["NOT_ANALYSED1", "NOT_ANALYSED2"],
        "random1": list(rng.choice(background, 60, replace=False)),
        "random2": list(rng.choice(background, 25, replace=False)),
        "tiny": ["G1"],
    }
    res = enrichment(module, sets, background, min_size=2)
    assert res.loc[0, "gene_set"] == "planted"
    assert "tiny" not in set(res["gene_set"])
    N, n = 500, 50
    for _, row in res.iterrows():
        members = set(sets[row["gene_set"]]) & set(background)
        K = len(members)
        k = len(members & set(module))
        assert (row["set_size"], row["overlap"], row["module_size"], row["background_size"]) == (K, k, n, N)
        assert row["p"] == pytest.approx(stats.hypergeom.sf(k - 1, N, K, n), rel=1e-10)
        # independent check: the one-sided Fisher exact test on the 2x2 table
        table = [[k, n - k], [K - k, N - K - (n - k)]]
        assert row["p"] == pytest.approx(stats.fisher_exact(table, alternative="greater")[1], rel=1e-8)
        assert row["expected"] == pytest.approx(n * K / N)
        assert sorted(row["genes"].split(";")) == sorted(members & set(module))
    np.testing.assert_allclose(res["fdr"], benjamini_hochberg(res["p"].to_numpy()))
    assert res["p"].is_monotonic_increasing
    # the same from a GMT file
    gmt = tmp_path / "s.gmt"
    gmt.write_text("".join(f"{k}\t-\t" + "\t".join(v) + "\n" for k, v in sets.items()))
    res2 = enrichment(module, gmt, background, min_size=2)
    pd.testing.assert_frame_equal(res, res2)


def test_enrichment_module_genes_outside_background_warn_and_errors():
    bg = ["A", "B", "C", "D", "E", "F"]
    with pytest.warns(UserWarning, match="1 gene"):
        res = enrichment(["A", "B", "Z"], {"s": ["A", "B", "C"]}, bg)
    assert res.loc[0, "module_size"] == 2
    with pytest.raises(ValueError, match="module_genes: none"), pytest.warns(UserWarning):
        enrichment(["Z"], {"s": ["A"]}, bg)
    with pytest.raises(ValueError, match="background"):
        enrichment(["A"], {"s": ["A"]}, [])
    with pytest.raises(ValueError, match="no set has between"):
        enrichment(["A"], {"s": ["X", "Y"]}, bg)
    with pytest.raises(TypeError, match="module_genes"):
        enrichment("A", {"s": ["A"]}, bg)


def test_snps_to_genes_by_position():
    snps = pd.DataFrame(
        {"rsid": ["rs1", "rs2", "rs3", "rs4", "rs5"], "chr": ["chr1", "1", "2", "X", "1"],
         "bp": [150, 5000, 300, 10, 180]}
    )
    genes = pd.DataFrame(
        {"gene": ["G1", "G2", "G3", "G4", "GX"], "chrom": ["1", "1", "chr2", "1", "x"],
         "start": [100, 4000, 1000, 170, 5], "end": [200, 4500, 2000, 300, 20]}
    )
    res = snps_to_genes(snps, genes)
    assert list(zip(res["snp"], res["gene"])) == [("rs1", "G1"), ("rs4", "GX"), ("rs5", "G1"), ("rs5", "G4")]
    assert (res["distance"] == 0).all()
    res = snps_to_genes(snps, genes, window=800)
    pairs = set(zip(res["snp"], res["gene"]))
    assert ("rs2", "G2") in pairs and ("rs3", "G3") in pairs
    d = res.set_index(["snp", "gene"])["distance"]
    assert d[("rs2", "G2")] == 500 and d[("rs3", "G3")] == 700
    assert ("rs3", "G1") not in pairs  # other chromosome


def test_snps_to_genes_by_table_and_errors():
    table = pd.DataFrame({"SNP": ["rs1", "rs2", "rs2", "rs9"], "Gene": ["A", "B", "C", "D"]})
    res = snps_to_genes(["rs2", "rs1"], snp_gene_table=table)
    assert list(zip(res["snp"], res["gene"])) == [("rs2", "B"), ("rs2", "C"), ("rs1", "A")]
    with pytest.raises(ValueError, match="exactly one"):
        snps_to_genes(["rs1"])
    with pytest.raises(ValueError, match=r"gene_positions: no start column"):
        snps_to_genes(pd.DataFrame({"snp": ["a"], "chrom": [1], "pos": [1]}),
                      pd.DataFrame({"gene": ["g"], "chrom": [1], "end": [5]}))
    with pytest.raises(ValueError, match=r"snps: missing or non-numeric positions .*'a'"):
        snps_to_genes(pd.DataFrame({"snp": ["a"], "chrom": [1], "pos": [np.nan]}),
                      pd.DataFrame({"gene": ["g"], "chrom": [1], "start": [1], "end": [5]}))
    with pytest.raises(ValueError, match="start > end"):
        snps_to_genes(pd.DataFrame({"snp": ["a"], "chrom": [1], "pos": [3]}),
                      pd.DataFrame({"gene": ["g"], "chrom": [1], "start": [9], "end": [5]}))


def test_float_entrez_ids_and_missing_identifiers():
    # Entrez IDs read from a column with NaN are floats: 348.0 must match "348"
    bg_col = pd.Series([348.0, 1191.0, 274.0, 8301.0, np.nan, 10347.0, 5663.0])
    sets = {"AD": ["348", "1191", "274"], "other": [5663, 10347]}
    res = enrichment([348.0, 1191.0, np.nan], sets, bg_col).set_index("gene_set")
    assert res.loc["AD", "overlap"] == 2 and res.loc["AD", "genes"] == "1191;348"
    assert res.loc["AD", "background_size"] == 6  # the NaN is no gene
    assert res.loc["AD", "module_size"] == 2
    # nullable integers with pd.NA, and pd.NA among strings, are dropped, not "<NA>"
    ints = pd.array([348, 1191, 274, None, 8301], dtype="Int64")
    r2 = enrichment(pd.array([348, None], dtype="Int64"), sets, ints).set_index("gene_set")
    assert r2.loc["AD", "background_size"] == 4 and r2.loc["AD", "module_size"] == 1
    r3 = enrichment(["APOE", pd.NA], {"s": ["APOE", "CLU"]}, ["APOE", "CLU", pd.NA, "BIN1"])
    assert r3.loc[0, "background_size"] == 3 and r3.loc[0, "module_size"] == 1
    # non-integer floats keep their text
    r4 = enrichment([1.5], {"s": ["1.5"]}, [1.5, 2.0])
    assert r4.loc[0, "overlap"] == 1
