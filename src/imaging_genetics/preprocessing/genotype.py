"""Genotype quality control: call rates, minor allele frequency and the
Hardy-Weinberg exact test."""

from __future__ import annotations

import logging
import numbers
import os
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .._validation import check_matrix, check_positive_int
from ..io.plink import iter_plink
from ._base import _Transformer

__all__ = ["GenotypeQC", "hwe_exact_pvalue"]

log = logging.getLogger(__name__)

#: Relative tolerance under which two exact-test probabilities count as tied.
_TIE_TOLERANCE = 1e-7

# Bits of GenotypeQC.reason_flags_.
_CALL_RATE, _MAF, _HWE = 1, 2, 4

# dtype of the chunks read by GenotypeQC.fit_plink. A .bed holds hard calls only, which
# decode to exactly 0, 1, 2 or NaN; float32 represents these exactly, and every
# statistic is a count or a sum of them accumulated in int64/float64 (see
# _allele_counts), so float32 halves the memory of a chunk and gives bit-identical
# results to a float64 read.
_PLINK_DTYPE = "float32"


# Per-block statistics. Each takes a dosage block G of shape (n_samples, n_snps_block)
# and returns per-SNP (length n_snps_block) or per-sample (length n_samples) integer
# counts or float64 sums; the counts of disjoint SNP blocks concatenate, and those of
# the whole matrix are one block. GenotypeQC.fit runs them once on the whole matrix and
# GenotypeQC.fit_plink once per chunk of SNPs, so both share every formula.


def _out_of_range(G: np.ndarray) -> np.ndarray:
    """Number of values outside [0, 2] per SNP."""
    return ((G < 0) | (G > 2)).sum(axis=0)


def _range_error(n_bad: int, columns: list[str]) -> ValueError:
    return ValueError(
        f"GenotypeQC: {n_bad} value(s) outside [0, 2] in column(s) {columns}; "
        "expected additive allele dosages (0, 1, 2; NaN for missing)"
    )


def _call_rate(n_called: np.ndarray, n: int) -> np.ndarray:
    """Call rate from a count of calls out of ``n``."""
    return n_called / n


def _call_counts(G: np.ndarray, min_call_rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calls per SNP, and per sample the calls over the SNPs of the block whose call
    rate (over the block's rows, i.e. all training samples) is >= min_call_rate and
    over all SNPs of the block."""
    called = ~np.isnan(G)
    snp_calls = called.sum(axis=0)
    passing = _call_rate(snp_calls, G.shape[0]) >= min_call_rate
    return snp_calls, called[:, passing].sum(axis=1), called.sum(axis=1)


def _allele_counts(G: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per SNP: calls, sum of the dosages (float64), and hard-call genotype counts
    (dosages rounded to 0/1/2) ``n_hom_a2``, ``n_het``, ``n_hom_a1``."""
    n_called = (~np.isnan(G)).sum(axis=0)
    dosage_sum = np.nansum(G, axis=0, dtype=np.float64)
    hard = np.round(G)
    return n_called, dosage_sum, (hard == 0).sum(axis=0), (hard == 1).sum(axis=0), (hard == 2).sum(axis=0)


def _het_distribution(n: int, n_rare: int) -> np.ndarray:
    """Probabilities of every possible heterozygote count given ``n`` genotypes and
    ``n_rare`` copies of the minor allele, under Hardy-Weinberg equilibrium.

    Wigginton, Cutler & Abecasis (2005), Am J Hum Genet 76:887, recurrence (eq. 2)::

        P(h + 2) / P(h) = 4 * hom_rare(h) * hom_common(h) / ((h + 1) * (h + 2))

    with ``hom_rare(h) = (n_rare - h) / 2`` and ``hom_common(h) = n - h - hom_rare(h)``.
    The recurrence is run in log space (a cumulative sum of log ratios), which avoids
    the under/overflow the original handles by starting from the mode.

    Returns
    -------
    ndarray of shape (n_rare // 2 + 1,)
        P(het = n_rare % 2), P(het = n_rare % 2 + 2), ..., P(het = n_rare); sums to 1.
    """
    hets = np.arange(n_rare % 2, n_rare + 1, 2, dtype=np.float64)
    hom_rare = (n_rare - hets) / 2
    hom_common = n - hets - hom_rare
    steps = np.log(4.0 * hom_rare[:-1] * hom_common[:-1]) - np.log((hets[:-1] + 1) * (hets[:-1] + 2))
    logp = np.concatenate(([0.0], np.cumsum(steps)))
    probs = np.exp(logp - logp.max())
    return probs / probs.sum()


def hwe_exact_pvalue(n_het: Any, n_hom1: Any, n_hom2: Any) -> float | np.ndarray:
    """Hardy-Weinberg equilibrium exact test p-value (Wigginton et al. 2005).

    The p-value is the probability, given the allele counts, of a heterozygote count
    at most as likely as the one observed (the two-sided test of PLINK ``--hardy``).

    Parameters
    ----------
    n_het, n_hom1, n_hom2 : int or array-like of int (broadcast together)
        Counts of heterozygous and of the two homozygous genotypes (which homozygote
        is which does not matter).

    Returns
    -------
    float, or ndarray of the broadcast shape
        p-values in (0, 1]; 1.0 where there are no genotypes or the SNP is monomorphic.

    Raises
    ------
    ValueError
        Negative or non-integer counts.

    Examples
    --------
    >>> bool(hwe_exact_pvalue(n_het=0, n_hom1=50, n_hom2=50) < 1e-20)
    True
    >>> round(hwe_exact_pvalue(n_het=50, n_hom1=25, n_hom2=25), 6)
    1.0
    """
    arrays = np.broadcast_arrays(*(np.asarray(a) for a in (n_het, n_hom1, n_hom2)))
    scalar = arrays[0].ndim == 0
    counts = []
    for name, a in zip(("n_het", "n_hom1", "n_hom2"), arrays):
        a = np.asarray(a, dtype=np.float64)
        if not np.isfinite(a).all() or (a < 0).any() or (a != np.round(a)).any():
            raise ValueError(f"hwe_exact_pvalue: {name} must hold nonnegative integer counts")
        counts.append(a.astype(np.int64).ravel())
    het, h1, h2 = counts
    hom_rare = np.minimum(h1, h2)
    n = het + h1 + h2
    n_rare = 2 * hom_rare + het
    pvalues = np.ones(het.shape, dtype=np.float64)
    informative = (n > 0) & (n_rare > 0)
    if informative.any():
        keys = np.stack([n[informative], n_rare[informative]], axis=1)
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        where = np.flatnonzero(informative)
        for g, (nn, rr) in enumerate(uniq):
            members = where[inverse == g]
            dist = _het_distribution(int(nn), int(rr))
            observed = dist[(het[members] - rr % 2) // 2]
            ordered = np.sort(dist)
            cumulative = np.cumsum(ordered)
            k = np.searchsorted(ordered, observed * (1 + _TIE_TOLERANCE), side="right")
            pvalues[members] = np.minimum(cumulative[k - 1], 1.0)
    pvalues = pvalues.reshape(arrays[0].shape)
    return float(pvalues) if scalar else pvalues


class GenotypeQC(_Transformer):
    """Per-SNP and per-sample quality control of additive genotype dosages.

    ``fit`` computes, on the training samples only and in this order: (1) each SNP's
    call rate; (2) each sample's call rate over the SNPs that pass (1); (3) over the
    samples that pass (2), each SNP's minor allele frequency (MAF) and Hardy-Weinberg
    exact-test p-value (on hard calls, dosages rounded to 0/1/2). ``transform`` keeps the SNP columns that pass all
    thresholds. Defaults follow the JCB-SNMF paper: SNPs with MAF < 0.05, HWE
    p < 1e-6 or call rate < 90% are removed.

    Samples are never removed by ``transform`` (a transformer must return every row it
    is given); the failing training samples are listed in ``sample_report_`` and left
    out of the SNP statistics. Use :meth:`low_call_rate_samples` to find such samples
    in any data set and drop them before fitting models.

    Parameters
    ----------
    min_maf : float, default 0.05
        Keep SNPs with MAF >= min_maf (0 keeps monomorphic SNPs).
    hwe_pvalue : float, default 1e-6
        Keep SNPs with HWE exact-test p >= hwe_pvalue (0 disables the test).
    min_call_rate : float, default 0.9
        Keep SNPs called in at least this fraction of the training samples (all of
        them: the sample call rates are computed over the SNPs that pass this).
    min_sample_call_rate : float, default 0.9
        Training samples called at fewer than this fraction of SNPs are left out of
        the SNP statistics.

    Attributes
    ----------
    support_ : ndarray of bool, shape (n_snps,)
        SNPs kept.
    call_rate_, maf_, hwe_pvalue_ : ndarray of shape (n_snps,)
    a1_frequency_ : ndarray of shape (n_snps,)
        Frequency of the counted (A1) allele.
    reason_flags_ : ndarray of uint8, shape (n_snps,)
        Bits 1 = call rate, 2 = MAF, 4 = HWE.
    sample_call_rate_ : ndarray of shape (n_train_samples,)
        Over the SNPs that pass the call-rate threshold.
    sample_mask_ : ndarray of bool, shape (n_train_samples,)
        Training samples used for the SNP statistics.
    report_ : DataFrame (n_snps, 6)
        ``call_rate``, ``maf``, ``a1_frequency``, ``hwe_p``, ``keep`` and ``reason``
        (e.g. ``"maf < 0.05; hwe p < 1e-06"``), indexed by SNP name.
    sample_report_ : DataFrame (n_train_samples, 2)
        ``call_rate`` and ``keep`` per training sample.

    Examples
    --------
    >>> qc = GenotypeQC().fit(G_train)                     # doctest: +SKIP
    >>> G_train_qc, G_test_qc = qc.transform(G_train), qc.transform(G_test)  # doctest: +SKIP
    >>> qc.report_.query("not keep")                       # doctest: +SKIP
    """

    def __init__(
        self,
        min_maf: float = 0.05,
        hwe_pvalue: float = 1e-6,
        min_call_rate: float = 0.9,
        min_sample_call_rate: float = 0.9,
    ) -> None:
        self.min_maf = min_maf
        self.hwe_pvalue = hwe_pvalue
        self.min_call_rate = min_call_rate
        self.min_sample_call_rate = min_sample_call_rate

    def _check_params(self) -> None:
        for name, upper in (("min_maf", 0.5), ("hwe_pvalue", 1.0), ("min_call_rate", 1.0),
                            ("min_sample_call_rate", 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= upper:
                raise ValueError(f"GenotypeQC: {name} must be a number in [0, {upper}], got {value!r}")

    def fit(self, X: Any, y: Any = None) -> "GenotypeQC":
        """Compute the QC statistics on training genotypes.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_snps)
            A1 dosages in [0, 2], NaN for missing calls.
        y : ignored

        Raises
        ------
        ValueError
            Values outside [0, 2], invalid thresholds, no sample or no SNP passing.

        See Also
        --------
        fit_plink : the same on a PLINK file set larger than memory.
        """
        self._check_params()
        G = self._validate(X, reset=True)
        bad = _out_of_range(G)
        if bad.any():
            raise _range_error(int(bad.sum()), self._input_names()[bad > 0][:5].tolist())
        # 1-2. SNP call rates; sample call rates over the SNPs that pass.
        self._set_call_rates(G.shape[0], *_call_counts(G, self.min_call_rate))
        # 3. Allele frequencies and HWE over the samples that pass.
        self._set_allele_statistics(*_allele_counts(G[self.sample_mask_]))
        self._set_flags()
        return self

    def fit_plink(
        self, prefix: str | os.PathLike, chunk_size: int = 10_000, samples: Any = None
    ) -> "GenotypeQC":
        """Compute the QC statistics on a PLINK file set, ``chunk_size`` SNPs at a time.

        Fits the same state as ``fit(read_plink(prefix, samples=samples))``
        (``feature_names_in_`` = SNP IDs) while holding at most one chunk of
        ``n_samples x chunk_size`` genotypes in memory (as float32), plus vectors of
        length n_samples and n_snps. The file is read twice: pass 1 gives the SNP call
        rates and, per sample, the calls over the SNPs that pass them; pass 2 reads the
        kept samples only and counts alleles and genotypes. ``transform`` then takes
        DataFrames whose columns are the SNP IDs, e.g. ``read_plink(prefix, snps=...)``.

        Parameters
        ----------
        prefix : str or path
            PLINK 1 file-set prefix (``.bed``/``.bim``/``.fam``).
        chunk_size : int, default 10_000
            SNPs read at a time (memory ~ 4 bytes x n_samples x chunk_size, a few times
            over for temporaries).
        samples : None, slice, sequence of IIDs, integer positions or boolean mask
            Training samples, as in :func:`imaging_genetics.io.read_plink` (default all).

        Raises
        ------
        TypeError, ValueError
            ``chunk_size`` not an integer >= 1; otherwise as :meth:`fit` and
            :func:`~imaging_genetics.io.read_plink`.

        Examples
        --------
        >>> qc = GenotypeQC().fit_plink("data/geno", chunk_size=20_000)   # doctest: +SKIP
        >>> kept = qc.feature_names_in_[qc.support_]                       # doctest: +SKIP
        >>> G = qc.transform(read_plink("data/geno", snps=qc.feature_names_in_))  # doctest: +SKIP
        """
        self._check_params()
        chunk_size = check_positive_int(chunk_size, "GenotypeQC.fit_plink: chunk_size")
        # Pass 1: SNP call rates, per-sample calls, value range.
        snp_ids, snp_calls, iids = [], [], None
        sample_calls_passing = sample_calls_all = None
        n_bad, bad_columns = 0, []
        for frame, _ in iter_plink(prefix, chunk_size, samples=samples, dtype=_PLINK_DTYPE):
            G = check_matrix(frame, "GenotypeQC: X", allow_nan=True, dtype=frame.dtypes.iloc[0])
            names = np.array([str(c) for c in frame.columns], dtype=str)
            bad = _out_of_range(G)
            n_bad += int(bad.sum())
            bad_columns += names[bad > 0][: 5 - len(bad_columns)].tolist()
            calls, passing, everything = _call_counts(G, self.min_call_rate)
            if iids is None:
                iids = frame.index.to_numpy()
                sample_calls_passing, sample_calls_all = passing, everything
            else:
                sample_calls_passing += passing
                sample_calls_all += everything
            snp_ids.append(names)
            snp_calls.append(calls)
        if iids is None:
            raise ValueError("GenotypeQC: X: needs at least 1 feature(s) (columns), got 0")
        if n_bad:
            raise _range_error(n_bad, bad_columns)
        snp_ids = np.concatenate(snp_ids)  # as _validate makes them from a DataFrame's columns
        self.n_features_in_ = len(snp_ids)
        self.feature_names_in_ = snp_ids
        self._set_call_rates(len(iids), np.concatenate(snp_calls), sample_calls_passing,
                             sample_calls_all)
        del snp_calls, sample_calls_passing, sample_calls_all
        # Pass 2: allele and genotype counts over the kept samples only.
        kept = samples if self.sample_mask_.all() else iids[self.sample_mask_].tolist()
        counts, offset = [], 0
        for frame, _ in iter_plink(prefix, chunk_size, samples=kept, dtype=_PLINK_DTYPE):
            names = np.array([str(c) for c in frame.columns], dtype=str)
            if not np.array_equal(names, snp_ids[offset:offset + len(names)]):
                raise RuntimeError(f"GenotypeQC.fit_plink: {prefix}: the SNPs changed between the two passes")
            offset += len(names)
            counts.append(_allele_counts(frame.to_numpy()))
        if offset != len(snp_ids):
            raise RuntimeError(f"GenotypeQC.fit_plink: {prefix}: the SNPs changed between the two passes")
        self._set_allele_statistics(*(np.concatenate(c) for c in zip(*counts)))
        self._set_flags()
        return self

    def _set_call_rates(self, n_samples: int, snp_calls: np.ndarray, sample_calls_passing: np.ndarray,
                        sample_calls_all: np.ndarray) -> None:
        """Steps 1-2 of fit from the counts of :func:`_call_counts` summed over blocks."""
        self.call_rate_ = _call_rate(snp_calls, n_samples)
        n_passing = int((self.call_rate_ >= self.min_call_rate).sum())
        if n_passing:
            self.sample_call_rate_ = _call_rate(sample_calls_passing, n_passing)
        else:
            self.sample_call_rate_ = _call_rate(sample_calls_all, len(snp_calls))
        self.sample_mask_ = self.sample_call_rate_ >= self.min_sample_call_rate
        n_bad = int((~self.sample_mask_).sum())
        if n_bad == len(self.sample_mask_):
            raise ValueError(
                f"GenotypeQC: all {n_bad} samples have a call rate below min_sample_call_rate="
                f"{self.min_sample_call_rate} (best {self.sample_call_rate_.max():.3f}); lower it"
            )
        if n_bad:
            log.warning("GenotypeQC: %d of %d training samples have call rate < %g and are left out "
                        "of the SNP statistics (see sample_report_)", n_bad, len(self.sample_mask_),
                        self.min_sample_call_rate)

    def _set_allele_statistics(self, n_called: np.ndarray, dosage_sum: np.ndarray, n_hom_a2: np.ndarray,
                               n_het: np.ndarray, n_hom_a1: np.ndarray) -> None:
        """Step 3 of fit from the counts of :func:`_allele_counts` over the kept samples."""
        with np.errstate(invalid="ignore", divide="ignore"):
            freq = dosage_sum / (2.0 * n_called)
        freq = np.where(n_called > 0, freq, np.nan)
        self.a1_frequency_ = freq
        # the minor allele's count over 2 n, not min(f, 1 - f): 1 - 0.9 is 0.0999..., and
        # a SNP at MAF exactly min_maf would be kept or dropped by which allele is A1
        with np.errstate(invalid="ignore", divide="ignore"):
            maf = np.minimum(dosage_sum, 2.0 * n_called - dosage_sum) / (2.0 * n_called)
        self.maf_ = np.where(n_called > 0, maf, np.nan)
        self.hwe_pvalue_ = np.asarray(hwe_exact_pvalue(n_het, n_hom_a1, n_hom_a2), dtype=np.float64).reshape(-1)

    def _set_flags(self) -> None:
        """Reason flags and support from the fitted statistics; log; fail if none is kept."""
        flags = np.zeros(len(self.call_rate_), dtype=np.uint8)
        flags[self.call_rate_ < self.min_call_rate] |= _CALL_RATE
        flags[~(self.maf_ >= self.min_maf)] |= _MAF  # NaN (never called) fails too
        flags[self.hwe_pvalue_ < self.hwe_pvalue] |= _HWE
        self.reason_flags_ = flags
        self.support_ = flags == 0
        n_keep = int(self.support_.sum())
        log.info(
            "GenotypeQC: kept %d of %d SNPs; removed %d for call rate < %g, %d for MAF < %g, "
            "%d for HWE p < %g (a SNP can fail several)",
            n_keep, len(flags), int((flags & _CALL_RATE > 0).sum()), self.min_call_rate,
            int((flags & _MAF > 0).sum()), self.min_maf, int((flags & _HWE > 0).sum()), self.hwe_pvalue,
        )
        if n_keep == 0:
            raise ValueError(
                f"GenotypeQC: no SNP passes QC (min_maf={self.min_maf}, hwe_pvalue={self.hwe_pvalue}, "
                f"min_call_rate={self.min_call_rate}); relax the thresholds or check the genotype coding"
            )

    def _support(self) -> np.ndarray:
        return self.support_

    def get_support(self) -> np.ndarray:
        """Boolean mask of the kept SNPs, shape (n_snps,)."""
        check_is_fitted(self)
        return self.support_.copy()

    def transform(self, X: Any) -> Any:
        """Keep the SNP columns that passed QC.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_snps)
            Same columns as in ``fit``.

        Returns
        -------
        ndarray or DataFrame of shape (n_samples, n_kept)
            A DataFrame (same index, kept column names) when X is one.
        """
        G = self._validate(X, reset=False)
        return self._wrap(G[:, self.support_], X)

    @property
    def report_(self) -> pd.DataFrame:
        check_is_fitted(self)
        reasons = []
        for f in self.reason_flags_:
            parts = []
            if f & _CALL_RATE:
                parts.append(f"call rate < {self.min_call_rate:g}")
            if f & _MAF:
                parts.append(f"maf < {self.min_maf:g}")
            if f & _HWE:
                parts.append(f"hwe p < {self.hwe_pvalue:g}")
            reasons.append("; ".join(parts))
        return pd.DataFrame(
            {
                "call_rate": self.call_rate_,
                "maf": self.maf_,
                "a1_frequency": self.a1_frequency_,
                "hwe_p": self.hwe_pvalue_,
                "keep": self.support_,
                "reason": reasons,
            },
            index=pd.Index(self._input_names(), name="SNP"),
        )

    @property
    def sample_report_(self) -> pd.DataFrame:
        check_is_fitted(self)
        return pd.DataFrame({"call_rate": self.sample_call_rate_, "keep": self.sample_mask_})

    def low_call_rate_samples(self, X: Any) -> np.ndarray:
        """Boolean mask (n_samples,) of the rows of ``X`` whose call rate over the SNPs
        that passed the call-rate threshold in fit is below ``min_sample_call_rate``."""
        G = self._validate(X, reset=False)
        keep = self.call_rate_ >= self.min_call_rate
        G = G[:, keep] if keep.any() else G
        return (~np.isnan(G)).mean(axis=1) < self.min_sample_call_rate
