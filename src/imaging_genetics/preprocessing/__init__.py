"""Preprocessing transformers (scikit-learn API), each fitted on training data only.

- :class:`GenotypeQC`: SNP call rate, minor allele frequency, Hardy-Weinberg exact test;
  sample call rate.
- :class:`MeanImputer`: missing values to training column means.
- :class:`CovariateResidualizer`: regress out age, sex, ... with the training fit.
- :class:`Standardizer`: z-scores with the training mean and SD.
- :class:`NonnegativeScaler`: min-max to [0, 1] with the training range (NMF inputs).
- :class:`PositiveNegativeSplit`: signed data to ``[max(X, 0), max(-X, 0)]`` (NMF inputs).
- :func:`hwe_exact_pvalue`: the Hardy-Weinberg exact test on its own.
"""

from __future__ import annotations

from .genotype import GenotypeQC, hwe_exact_pvalue
from .transformers import CovariateResidualizer, MeanImputer, NonnegativeScaler, PositiveNegativeSplit, Standardizer

__all__ = [
    "GenotypeQC",
    "MeanImputer",
    "CovariateResidualizer",
    "Standardizer",
    "NonnegativeScaler",
    "PositiveNegativeSplit",
    "hwe_exact_pvalue",
]
