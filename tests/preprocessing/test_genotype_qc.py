from __future__ import annotations

import itertools
import logging
from fractions import Fraction
from math import comb

import numpy as np
import pandas as pd
import pytest

from imaging_genetics import load
from imaging_genetics.preprocessing import GenotypeQC, hwe_exact_pvalue


def brute_force_hwe(n_het: int, n_hom1: int, n_hom2: int) -> Fraction:
    """Exact HWE p-value by enumerating every placement of the minor alleles among the
    2n allele slots (pairs (2i, 2i+1) form individuals); each placement is equally likely
    given the allele counts."""
    n = n_het + n_hom1 + n_hom2
    n_rare = 2 * min(n_hom1, n_hom2) + n_het
    counts: dict[int, int] = {}
    for slots in itertools.combinations(range(2 * n), n_rare):
        chosen = set(slots)
        het = sum((2 * i in chosen) != (2 * i + 1 in chosen) for i in range(n))
        counts[het] = counts.get(het, 0) + 1
    total = comb(2 * n, n_rare)
    probs = {h: Fraction(c, total) for h, c in counts.items()}
    observed = probs[n_het]
    return sum((p for p in probs.values() if p <= observed), Fraction(0))


@pytest.mark.parametrize(
    "het,hom1,hom2",
    [(0, 4, 4), (4, 2, 2), (8, 0, 0), (1, 6, 1), (2, 5, 1), (3, 2, 3), (0, 7, 1), (5, 3, 0), (1, 0, 7)],
)
def test_hwe_matches_brute_force_enumeration(het, hom1, hom2):
    expected = float(brute_force_hwe(het, hom1, hom2))
    assert hwe_exact_pvalue(het, hom1, hom2) == pytest.approx(expected, rel=1e-9)


def test_hwe_matches_closed_form_at_larger_n():
    # Levene's closed form with exact integers (independent of the recurrence).
    def closed(het, h1, h2):
        n = het + h1 + h2
        rare = 2 * min(h1, h2) + het
        def prob(h):
            hr = (rare - h) // 2
            hc = n - h - hr
            from math import factorial as f
            return Fraction(f(n) * f(rare) * f(2 * n - rare) * 2 ** h, f(hr) * f(h) * f(hc) * f(2 * n))
        dist = [prob(h) for h in range(rare % 2, rare + 1, 2)]
        obs = prob(het)
        return float(sum(p for p in dist if p <= obs))
    for counts in [(30, 50, 20), (10, 80, 10), (45, 30, 25), (0, 90, 10), (57, 21, 22)]:
        assert hwe_exact_pvalue(*counts) == pytest.approx(closed(*counts), rel=1e-9)


def test_hwe_vectorised_edge_cases_and_errors():
    p = hwe_exact_pvalue([0, 50, 0, 0], [50, 25, 0, 10], [50, 25, 0, 0])
    assert p.shape == (4,)
    assert p[0] < 1e-20
    assert p[1] == pytest.approx(1.0)
    assert p[2] == 1.0 and p[3] == 1.0  # no genotypes; monomorphic
    assert isinstance(hwe_exact_pvalue(1, 1, 1), float)
    # Symmetric in the two homozygote counts.
    assert hwe_exact_pvalue(3, 10, 2) == hwe_exact_pvalue(3, 2, 10)
    with pytest.raises(ValueError, match="n_het"):
        hwe_exact_pvalue(-1, 2, 3)
    with pytest.raises(ValueError, match="n_hom2"):
        hwe_exact_pvalue(1, 2, 2.5)


def hwe_sample(rng, n, freq):
    return rng.binomial(2, freq, size=n).astype(float)


@pytest.fixture
def genotypes():
    rng = np.random.default_rng(1)
    n = 200
    cols = {
        "good1": hwe_sample(rng, n, 0.3),
        "good2": hwe_sample(rng, n, 0.5),
        "rare": hwe_sample(rng, n, 0.01),
        "mono": np.zeros(n),
        # All heterozygotes: extreme HWE violation with MAF 0.5.
        "hwe": np.ones(n),
        "lowcall": hwe_sample(rng, n, 0.4),
    }
    G = pd.DataFrame(cols, index=[f"s{i}" for i in range(n)])
    G.iloc[: int(0.15 * n), G.columns.get_loc("lowcall")] = np.nan  # call rate 0.85
    G.iloc[:5, G.columns.get_loc("good1")] = np.nan  # call rate 0.975, kept
    return G


def test_qc_thresholds_and_report(genotypes, caplog):
    with caplog.at_level(logging.INFO, logger="imaging_genetics"):
        qc = GenotypeQC().fit(genotypes)
    assert qc.get_feature_names_out().tolist() == ["good1", "good2"]
    rep = qc.report_
    assert rep.loc["rare", "reason"] == "maf < 0.05"
    assert rep.loc["mono", "reason"] == "maf < 0.05"
    assert rep.loc["hwe", "reason"] == "hwe p < 1e-06"
    assert rep.loc["lowcall", "reason"] == "call rate < 0.9"
    assert rep.loc["good1", "call_rate"] == pytest.approx(0.975)
    assert rep.loc["mono", "maf"] == 0.0
    assert rep.loc["mono", "a1_frequency"] == 0.0
    assert rep["keep"].tolist() == [True, True, False, False, False, False]
    assert "kept 2 of 6 SNPs" in caplog.text
    out = qc.transform(genotypes)
    assert isinstance(out, pd.DataFrame)
    assert out.columns.tolist() == ["good1", "good2"]
    assert out.index.equals(genotypes.index)
    # Numpy in, numpy out.
    arr = GenotypeQC().fit(genotypes.to_numpy()).transform(genotypes.to_numpy())
    np.testing.assert_array_equal(arr, out.to_numpy())


def test_qc_threshold_edges(genotypes):
    # Disabling a rule keeps what it removed.
    qc = GenotypeQC(min_maf=0.0, hwe_pvalue=0.0, min_call_rate=0.8).fit(genotypes)
    assert qc.support_.all()
    # A SNP with call rate exactly at the threshold is kept.
    G = genotypes[["good2"]].copy()
    G.iloc[:20, 0] = np.nan  # 0.9
    assert GenotypeQC().fit(G).support_.tolist() == [True]
    # MAF exactly 0.05 is kept: 20 heterozygotes among 200 samples.
    G = pd.DataFrame({"m": np.r_[np.ones(20), np.zeros(180)], "k": genotypes["good2"]})
    qc = GenotypeQC(hwe_pvalue=0.0).fit(G)
    assert qc.maf_[0] == pytest.approx(0.05)
    assert qc.support_[0]
    # ... whichever allele is counted: the same SNP coded from the other allele (2 - dosage)
    # has A1 frequency 0.95, and 1 - 0.95 is not exactly 0.05 in floating point
    for maf in (0.05, 0.1, 0.3):
        m = int(round(maf * 400))
        G = pd.DataFrame({"a": np.r_[np.ones(m), np.zeros(200 - m)], "b": 2 - np.r_[np.ones(m), np.zeros(200 - m)]})
        qc = GenotypeQC(min_maf=maf, hwe_pvalue=0.0).fit(G)
        assert qc.maf_[0] == qc.maf_[1] == m / 400
        assert qc.support_.tolist() == [True, True]


def test_sample_call_rate(genotypes, caplog):
    G = genotypes.copy()
    G["good1"] = G["good1"].fillna(1.0)
    G.iloc[-3:, :] = np.nan  # three samples with no calls
    G.iloc[-3:, 0] = 1.0
    with caplog.at_level(logging.WARNING, logger="imaging_genetics"):
        qc = GenotypeQC().fit(G)
    assert "3 of 200 training samples" in caplog.text
    assert qc.sample_report_["keep"].sum() == 197
    assert qc.low_call_rate_samples(G).sum() == 3
    # SNP call rates are over all training samples; allele frequencies over kept ones.
    assert qc.report_.loc["good2", "call_rate"] == pytest.approx(197 / 200)
    kept = G.iloc[:197]["good2"]
    assert qc.report_.loc["good2", "a1_frequency"] == pytest.approx(kept.mean() / 2)
    assert qc.transform(G).shape[0] == 200  # rows are never dropped


def test_no_leakage_fit_on_train_only(genotypes):
    train, test = genotypes.iloc[:100], genotypes.iloc[100:].copy()
    qc = GenotypeQC().fit(train)
    before = qc.report_.copy()
    test.iloc[:, :] = np.nan  # whatever the test data hold...
    qc.transform(test)
    pd.testing.assert_frame_equal(qc.report_, before)  # ...the fitted state is unchanged
    assert qc.transform(test).columns.tolist() == qc.get_feature_names_out().tolist()


def test_qc_bad_input(genotypes):
    bad = genotypes.copy()
    bad.iloc[0, 1] = 3.0
    with pytest.raises(ValueError, match=r"outside \[0, 2\].*good2"):
        GenotypeQC().fit(bad)
    with pytest.raises(ValueError, match="min_maf"):
        GenotypeQC(min_maf=0.7).fit(genotypes)
    with pytest.raises(ValueError, match="no SNP passes QC"):
        GenotypeQC().fit(genotypes[["rare", "mono"]])
    qc = GenotypeQC().fit(genotypes)
    with pytest.raises(ValueError, match=r"missing \['hwe'\]"):
        qc.transform(genotypes.drop(columns="hwe").assign(other=0.0))
    with pytest.raises(ValueError, match="fitted on 6"):
        qc.transform(genotypes.to_numpy()[:, :3])
    with pytest.raises(ValueError, match="not numeric"):
        GenotypeQC().fit(genotypes.assign(site="a"))


def test_qc_save_load_round_trip(genotypes, tmp_path):
    qc = GenotypeQC().fit(genotypes)
    back = load(qc.save(tmp_path / "qc"))
    pd.testing.assert_frame_equal(back.report_, qc.report_)
    pd.testing.assert_frame_equal(back.transform(genotypes), qc.transform(genotypes))


# --- Out-of-core QC of PLINK file sets (GenotypeQC.fit_plink) ------------------------

import bed_reader  # noqa: E402

from imaging_genetics.io import read_plink, write_plink  # noqa: E402
from imaging_genetics.preprocessing import genotype as genotype_module  # noqa: E402

FITTED = ["call_rate_", "maf_", "a1_frequency_", "hwe_pvalue_", "reason_flags_", "support_",
          "sample_call_rate_", "sample_mask_", "feature_names_in_"]


@pytest.fixture
def plink_set(tmp_path):
    """50 samples x 23 SNPs with scattered missing calls, a monomorphic SNP, an HWE
    failure, a low-call-rate SNP, a SNP called only in left-out samples and two
    low-call-rate samples."""
    rng = np.random.default_rng(7)
    n, p = 50, 23
    G = rng.binomial(2, rng.uniform(0.1, 0.5, p), size=(n, p)).astype(float)
    G[rng.random((n, p)) < 0.02] = np.nan
    G[:, 3] = 0.0  # monomorphic
    G[5, 3] = np.nan
    G[:, 9] = 1.0  # all heterozygous: HWE p ~ 1e-14
    G[:10, 15] = np.nan  # call rate 0.8
    G[:, 20] = np.nan  # called only in the two samples below
    G[[0, 1], :] = np.nan  # two samples called at few SNPs ...
    G[[0, 1], ::4] = 2.0  # ... whose calls would shift the allele frequencies
    G[np.arange(2, 8), np.arange(0, p, 4)] = np.nan  # no SNP is called in every sample
    G[-1, 0] = 0.0
    iids = [f"s{(i * 17) % n:02d}" for i in range(n)]  # not in sorted order
    frame = pd.DataFrame(G, index=iids, columns=[f"rs{100 + j}" for j in range(p)])
    write_plink(tmp_path / "geno", frame)
    return tmp_path / "geno"


def assert_same_fit(got, expected):
    assert sorted(vars(got)) == sorted(vars(expected))  # no fitted attribute missing or extra
    assert got.n_features_in_ == expected.n_features_in_
    for name in FITTED:
        a, b = getattr(got, name), getattr(expected, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        np.testing.assert_array_equal(a, b, err_msg=name)  # exact; NaN == NaN
    pd.testing.assert_frame_equal(got.report_, expected.report_, check_exact=True)
    pd.testing.assert_frame_equal(got.sample_report_, expected.sample_report_, check_exact=True)


def test_plink_set_exercises_every_rule(plink_set):
    # The fixture must hit every branch the chunked fit has to reproduce.
    qc = GenotypeQC().fit(read_plink(plink_set))
    rep = qc.report_
    assert rep.loc["rs103", "maf"] == 0.0 and "maf" in rep.loc["rs103", "reason"]
    assert "hwe" in rep.loc["rs109", "reason"]
    assert "call rate" in rep.loc["rs115", "reason"]
    assert np.isnan(rep.loc["rs120", "maf"]) and rep.loc["rs120", "call_rate"] == 0.04
    assert (qc.call_rate_ < 1).all()
    assert (~qc.sample_mask_).sum() == 2
    assert 0 < qc.support_.sum() < 23
    assert np.isnan(read_plink(plink_set).to_numpy()).mean() > 0.05


@pytest.mark.parametrize("chunk_size", [1, 7, 23, 100])
def test_fit_plink_matches_fit_on_read_plink(plink_set, chunk_size):
    expected = GenotypeQC().fit(read_plink(plink_set))
    got = GenotypeQC().fit_plink(plink_set, chunk_size=chunk_size)
    assert_same_fit(got, expected)
    assert got.report_.index.tolist() == [f"rs{100 + j}" for j in range(23)]
    # transform / low_call_rate_samples take the DataFrame read_plink gives.
    G = read_plink(plink_set)
    pd.testing.assert_frame_equal(got.transform(G), expected.transform(G))
    assert got.transform(G).columns.tolist() == got.feature_names_in_[got.support_].tolist()
    np.testing.assert_array_equal(got.low_call_rate_samples(G), ~got.sample_mask_)


@pytest.mark.parametrize("chunk_size", [1, 7, 100])
def test_fit_plink_sample_subsets_and_other_thresholds(plink_set, chunk_size):
    G = read_plink(plink_set)
    rng = np.random.default_rng(3)
    iids = rng.permutation(G.index.to_numpy())[:35].tolist()
    iids += [G.index[0]]  # one of the low-call-rate samples
    mask = np.arange(50) % 3 != 0
    params = dict(min_maf=0.1, hwe_pvalue=0.01, min_call_rate=0.95, min_sample_call_rate=0.8)
    for samples in (iids, [int(i) for i in rng.permutation(50)[:40]], mask):
        for kw in ({}, params):
            expected = GenotypeQC(**kw).fit(read_plink(plink_set, samples=samples))
            got = GenotypeQC(**kw).fit_plink(plink_set, chunk_size=chunk_size, samples=samples)
            assert_same_fit(got, expected)


def test_fit_plink_no_snp_passing_call_rate(plink_set):
    # Sample call rates then fall back to all SNPs; both fits fail alike after that.
    errors, fits = [], []
    for fit in (lambda qc: qc.fit(read_plink(plink_set)), lambda qc: qc.fit_plink(plink_set, chunk_size=4)):
        qc = GenotypeQC(min_call_rate=1.0, min_sample_call_rate=0.5)
        with pytest.raises(ValueError, match="no SNP passes QC") as info:
            fit(qc)
        errors.append(str(info.value))
        fits.append(qc)
    assert errors[0] == errors[1]
    assert not (fits[0].call_rate_ >= 1.0).any()
    np.testing.assert_array_equal(fits[1].sample_call_rate_, fits[0].sample_call_rate_)
    np.testing.assert_array_equal(fits[1].sample_mask_, fits[0].sample_mask_)


@pytest.mark.parametrize("chunk_size", [1, 7, 10])
def test_fit_plink_reads_at_most_chunk_size_snps(plink_set, monkeypatch, chunk_size):
    reads = []
    original = bed_reader.open_bed.read

    def recording_read(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        reads.append(out.shape)
        return out

    monkeypatch.setattr(bed_reader.open_bed, "read", recording_read)
    qc = GenotypeQC().fit_plink(plink_set, chunk_size=chunk_size)
    widths = [w for _, w in reads]
    assert max(widths) <= chunk_size
    assert sum(widths) == 2 * 23  # two passes over every SNP, nothing else
    n_kept = int(qc.sample_mask_.sum())
    assert n_kept == 48
    half = len(reads) // 2
    assert [r for r, _ in reads] == [50] * half + [n_kept] * half  # pass 2: kept samples only


@pytest.mark.parametrize("bad", [0, -2, 2.5, 10.0, True, "10", None])
def test_fit_plink_bad_chunk_size(plink_set, bad):
    with pytest.raises((TypeError, ValueError), match="chunk_size"):
        GenotypeQC().fit_plink(plink_set, chunk_size=bad)


def test_fit_plink_out_of_range_dosages_name_the_snp(plink_set, monkeypatch):
    # A .bed only holds 0/1/2/missing, so out-of-range values are injected into the chunks.
    def corrupt(frame):
        frame = frame.copy()
        for snp, value in (("rs104", 3.0), ("rs112", -1.0)):
            if snp in frame.columns:
                frame.iloc[2, frame.columns.get_loc(snp)] = value
        return frame

    original = genotype_module.iter_plink

    def corrupted_iter(*args, **kwargs):
        for frame, bim in original(*args, **kwargs):
            yield corrupt(frame), bim

    monkeypatch.setattr(genotype_module, "iter_plink", corrupted_iter)
    with pytest.raises(ValueError) as expected:
        GenotypeQC().fit(corrupt(read_plink(plink_set)))
    for chunk_size in (1, 7, 100):
        with pytest.raises(ValueError, match=r"outside \[0, 2\].*rs104.*rs112") as got:
            GenotypeQC().fit_plink(plink_set, chunk_size=chunk_size)
        assert str(got.value) == str(expected.value)


def test_fit_plink_save_load_round_trip(plink_set, tmp_path):
    qc = GenotypeQC().fit_plink(plink_set, chunk_size=5)
    back = load(qc.save(tmp_path / "qc"))
    pd.testing.assert_frame_equal(back.report_, qc.report_)
    G = read_plink(plink_set)
    pd.testing.assert_frame_equal(back.transform(G), qc.transform(G))
