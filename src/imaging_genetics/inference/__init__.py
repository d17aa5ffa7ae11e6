"""Evaluation and inference: cross-validation, permutation tests, feature-selection
metrics, stability, co-module extraction and significance.

Names are imported on first use so that ``import imaging_genetics.inference`` stays
light.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    # CCA evaluation
    "nested_cv": "cv",
    "cross_validate_cca": "cv",
    "feature_selection_auc": "metrics",
    "estimation_accuracy": "metrics",
    "permutation_test": "permutation",
    "stability_selection": "stability",
    "sensitivity": "sensitivity",
    "predict_outcome": "prediction",
    # joint NMF modules
    "extract_modules": "modules",
    "extract_sample_modules": "modules",
    "module_sizes": "modules",
    "module_significance": "modules",
    "overlap_rate": "modules",
    "multi_membership_rate": "modules",
    "reconstruction_correlation": "modules",
    "reconstruction_errors": "modules",
    "nmf_grid_search": "nmf_selection",
    "best_setting": "nmf_selection",
    "select_n_components": "nmf_selection",
    "restart_stability": "nmf_selection",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'imaging_genetics.inference' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__():
    return __all__
