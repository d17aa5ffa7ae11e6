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
from .enrichment import enrichment, read_gmt, snps_to_genes
from .markers import binary_labels, delong_variance, marker_roc, plot_marker_roc
from .pairs import correlation_matrix, module_overlap_summary, pair_heatmap, top_pairs

__all__ = [
    "benjamini_hochberg",
    "moderated_t_test",
    "welch_t_test",
    "estimate_prior",
    "trigamma_inverse",
    "DifferentialExpressionFilter",
    "delong_variance",
    "marker_roc",
    "plot_marker_roc",
    "binary_labels",
    "read_gmt",
    "enrichment",
    "snps_to_genes",
    "correlation_matrix",
    "top_pairs",
    "pair_heatmap",
    "module_overlap_summary",
]
