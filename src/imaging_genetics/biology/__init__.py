"""From modules to biology: differential-expression screening, marker ROC analysis,
gene-set enrichment and cross-modality pair tables.

These are the steps the JCB-SNMF paper takes around the factorisation: genes are
screened for differential expression before it (p < 0.01), and afterwards the
module's genes are tested as diagnostic markers (ROC, Table 4), checked for enriched
gene sets, and the strongest SNP–ROI and gene–ROI pairs are tabulated (Table 5,
Fig. 12).
"""

from __future__ import annotations

from ._common import benjamini_hochberg
from .differential import (
    DifferentialExpressionFilter,
    estimate_prior,
    moderated_t_test,
    trigamma_inverse,
    welch_t_test,
)

__all__ = [
    "benjamini_hochberg",
    "moderated_t_test",
    "welch_t_test",
    "estimate_prior",
    "trigamma_inverse",
    "DifferentialExpressionFilter",
]
