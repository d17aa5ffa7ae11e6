"""Shared plumbing of the preprocessing transformers: input checks, feature names,
and DataFrame in -> DataFrame out."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import check_feature_names, check_matrix
from ..base import PersistenceMixin


class _Transformer(PersistenceMixin, TransformerMixin, BaseEstimator):
    """Base class: remembers the training columns and returns DataFrames for DataFrames.

    Fitted attributes set here: ``n_features_in_`` and, when fitted on a DataFrame,
    ``feature_names_in_`` (a str array).
    """

    #: Whether NaN (missing values) are accepted by fit/transform.
    _allow_nan = True

    def _validate(self, X: Any, *, reset: bool, name: str = "X") -> np.ndarray:
        arr = check_matrix(X, f"{type(self).__name__}: {name}", allow_nan=self._allow_nan,
                           min_samples=2 if reset else 1)
        cols = getattr(X, "columns", None)
        if reset:
            self.n_features_in_ = arr.shape[1]
            if cols is not None:
                self.feature_names_in_ = np.array([str(c) for c in cols], dtype=str)
            elif hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            return arr
        check_is_fitted(self)
        if arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{type(self).__name__}: {name} has {arr.shape[1]} features (columns) but the "
                f"transformer was fitted on {self.n_features_in_}; pass the same columns as in fit"
            )
        check_feature_names(cols, getattr(self, "feature_names_in_", None), f"{type(self).__name__}: {name}",
                            "select them as X[transformer.feature_names_in_]")
        return arr

    def _input_names(self) -> np.ndarray:
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = np.array([f"x{i}" for i in range(self.n_features_in_)], dtype=str)
        return names

    def _support(self) -> np.ndarray:
        return np.ones(self.n_features_in_, dtype=bool)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns (the kept input columns, in order)."""
        check_is_fitted(self)
        names = self._input_names() if input_features is None else np.asarray(input_features, dtype=str)
        if names.shape != (self.n_features_in_,):
            raise ValueError(
                f"input_features: expected {self.n_features_in_} names, got {names.shape[0]}"
            )
        return np.array([str(x) for x in names[self._support()]], dtype=object)

    def _wrap(self, out: np.ndarray, X: Any) -> Any:
        if isinstance(X, pd.DataFrame):
            return pd.DataFrame(out, index=X.index, columns=self.get_feature_names_out(), copy=False)
        return out
