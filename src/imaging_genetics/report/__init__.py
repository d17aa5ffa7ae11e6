"""Figures and a self-contained HTML report."""

from __future__ import annotations

from .figures import (
    ccc_bars,
    checkpoint_iterations,
    correlation_heatmap,
    manhattan,
    module_membership_heatmap,
    objective_traces,
    region_weight_bars,
    roc_curves,
    save_figure,
    sensitivity_curves,
    weight_heatmap,
)
from .html import Report, format_p_value, is_p_value_column

__all__ = [
    "Report",
    "ccc_bars",
    "checkpoint_iterations",
    "correlation_heatmap",
    "format_p_value",
    "is_p_value_column",
    "manhattan",
    "module_membership_heatmap",
    "objective_traces",
    "region_weight_bars",
    "roc_curves",
    "save_figure",
    "sensitivity_curves",
    "weight_heatmap",
]
