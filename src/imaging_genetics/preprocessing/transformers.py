"""Imputation, covariate residualisation and scaling, each fitted on training data only."""

from __future__ import annotations

import logging
import numbers
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .._stats import column_spread
from .._validation import check_matrix
from ._base import _Transformer

__all__ = ["MeanImputer", "CovariateResidualizer", "Standardizer", "NonnegativeScaler", "PositiveNegativeSplit"]

log = logging.getLogger(__name__)


def _names(mask: np.ndarray, names: np.ndarray, limit: int = 5) -> str:
    picked = names[mask]
    more = f" and {picked.size - limit} more" if picked.size > limit else ""
    return str([str(x) for x in picked[:limit]]) + more


class MeanImputer(_Transformer):
    """Replace missing values (NaN) by the training mean of their column.

    Parameters
    ----------
    all_missing : {"error", "drop"}, default "error"
        What to do with a column that has no observed value in the training data:
        raise (naming the columns), or drop it from the output (logged, and visible in
        ``get_feature_names_out``/``support_``).

    Attributes
    ----------
    means_ : ndarray of shape (n_features,)
        Training column means (NaN for dropped all-missing columns).
    support_ : ndarray of bool, shape (n_features,)
        Columns kept in the output.

    Examples
    --------
    >>> import numpy as np
    >>> MeanImputer().fit([[1.0], [3.0]]).transform([[np.nan]])
    array([[2.]])
    """

    def __init__(self, all_missing: str = "error") -> None:
        self.all_missing = all_missing

    def fit(self, X: Any, y: Any = None) -> "MeanImputer":
        """Learn the column means of the training data X (n_samples, n_features)."""
        if self.all_missing not in ("error", "drop"):
            raise ValueError(f"MeanImputer: all_missing must be 'error' or 'drop', got {self.all_missing!r}")
        arr = self._validate(X, reset=True)
        empty = np.isnan(arr).all(axis=0)
        if empty.any():
            if self.all_missing == "error":
                raise ValueError(
                    f"MeanImputer: {int(empty.sum())} column(s) have no observed value in the "
                    f"training data: {_names(empty, self._input_names())}; drop them first "
                    "(e.g. GenotypeQC removes SNPs with low call rate) or use all_missing='drop'"
                )
            log.warning("MeanImputer: dropping %d all-missing column(s): %s", int(empty.sum()),
                        _names(empty, self._input_names()))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            self.means_ = np.nanmean(arr, axis=0)
        self.support_ = ~empty
        return self

    def _support(self) -> np.ndarray:
        return self.support_

    def transform(self, X: Any) -> Any:
        """Fill NaN with the training means; returns (n_samples, n_kept), a DataFrame
        for a DataFrame."""
        arr = self._validate(X, reset=False)
        missing = np.isnan(arr)
        if missing.any():
            arr = np.where(missing, self.means_, arr)
            log.debug("MeanImputer: imputed %d missing value(s)", int(missing[:, self.support_].sum()))
        return self._wrap(arr[:, self.support_], X)


class CovariateResidualizer(_Transformer):
    """Regress covariates (age, sex, principal components, ...) out of every feature.

    ``fit`` estimates, on the training samples, the least-squares coefficients of each
    column of X on the covariates (plus an intercept); ``transform`` subtracts the
    covariate part from any data with those coefficients, so test folds are
    residualised with the training fit (no leakage).

    Covariates are passed next to X, in ``fit(X, covariates)`` and
    ``transform(X, covariates)``. Inside an sklearn ``Pipeline``, which passes only X
    to ``transform`` (and the target y as the second argument of ``fit``), set
    ``covariate_columns``: those columns of a DataFrame X are used as covariates and
    left out of the output, and the second argument is ignored.

    Parameters
    ----------
    covariate_columns : list of str, optional
        Names of the columns of X that hold the covariates.
    fit_intercept : bool, default True

    Attributes
    ----------
    coef_ : ndarray of shape (n_covariates, n_features)
    intercept_ : ndarray of shape (n_features,)
    covariate_names_ : list of str

    Raises
    ------
    ValueError
        NaN/infinite or non-numeric covariates or data (impute first), covariates whose
        rows or sample IDs do not match X.

    Examples
    --------
    >>> res = CovariateResidualizer().fit(X_train, covariates=C_train)   # doctest: +SKIP
    >>> X_test_res = res.transform(X_test, covariates=C_test)            # doctest: +SKIP
    """

    _allow_nan = False

    def __init__(self, covariate_columns: Sequence[str] | None = None, fit_intercept: bool = True) -> None:
        self.covariate_columns = covariate_columns
        self.fit_intercept = fit_intercept

    def _split(self, X: Any, covariates: Any) -> tuple[Any, Any]:
        if self.covariate_columns is not None:
            # In a Pipeline the second argument of fit is the target y: not covariates.
            covariates = None
        if covariates is not None:
            if isinstance(X, pd.DataFrame) and isinstance(covariates, (pd.DataFrame, pd.Series)):
                covariates = self._align(X, covariates)
            return X, covariates
        if self.covariate_columns is None:
            raise ValueError(
                "CovariateResidualizer: no covariates; pass them as covariates= (an array or "
                "DataFrame with one row per sample) or set covariate_columns"
            )
        if not isinstance(X, pd.DataFrame):
            raise ValueError(
                "CovariateResidualizer: covariate_columns needs X as a DataFrame with those columns"
            )
        # a label as given (0 for an integer-labelled table) or as its text ("age", "0")
        by_text = {str(c): c for c in X.columns}
        cols = [c if c in X.columns else by_text.get(str(c)) for c in self.covariate_columns]
        missing = [str(c) for c, found in zip(self.covariate_columns, cols) if found is None]
        if missing:
            raise ValueError(f"CovariateResidualizer: covariate column(s) {missing} not in X")
        return X.drop(columns=cols), X[cols]

    def _named_like_fit(self, C: Any) -> Any:
        """Covariates of transform in the fitted column order, when both are labelled."""
        fitted = self.covariate_names_
        if not isinstance(C, pd.DataFrame) or fitted == [f"covariate{i}" for i in range(len(fitted))]:
            return C  # unlabelled at fit: matched by position
        given = [str(c) for c in C.columns]
        if given == fitted:
            return C
        if sorted(given) == sorted(fitted) and len(set(given)) == len(given):
            return C.iloc[:, [given.index(c) for c in fitted]]
        raise ValueError(
            f"CovariateResidualizer: covariates have columns {given[:10]}, but the model was fitted "
            f"with {fitted[:10]}; give the same covariates"
        )

    @staticmethod
    def _align(X: pd.DataFrame, C: Any) -> Any:
        if isinstance(C, pd.Series):
            C = C.to_frame()
        if C.index.equals(X.index):
            return C
        if len(C) == len(X) and set(C.index) == set(X.index) and not C.index.has_duplicates:
            return C.loc[X.index]
        missing = X.index.difference(C.index)[:5].tolist()
        raise ValueError(
            f"CovariateResidualizer: covariates lack the sample ID(s) {missing} of X "
            f"({len(C)} covariate rows, {len(X)} samples); give covariates for every sample"
        )

    def _covariates(self, C: Any, n: int) -> np.ndarray:
        C = check_matrix(C if np.ndim(C) != 1 else np.reshape(C, (-1, 1)),
                         "CovariateResidualizer: covariates", min_samples=1)
        if C.shape[0] != n:
            raise ValueError(
                f"CovariateResidualizer: covariates have {C.shape[0]} rows but X has {n}; "
                "pass one covariate row per sample, in the same order"
            )
        return C

    def fit(self, X: Any, covariates: Any = None, y: Any = None) -> "CovariateResidualizer":
        """Fit the covariate regression on training data.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        covariates : array-like or DataFrame of shape (n_samples, n_covariates), optional
            Required unless ``covariate_columns`` is set. DataFrames are matched to X
            by index.
        """
        Xf, C = self._split(X, covariates)
        arr = self._validate(Xf, reset=True)
        Cm = self._covariates(C, arr.shape[0])
        design = np.column_stack([np.ones(len(Cm)), Cm]) if self.fit_intercept else Cm
        if np.linalg.matrix_rank(design) < design.shape[1]:
            log.warning("CovariateResidualizer: the covariates are collinear (rank %d < %d columns); "
                        "the minimum-norm fit is used", np.linalg.matrix_rank(design), design.shape[1])
        beta, *_ = np.linalg.lstsq(design, arr, rcond=None)
        if self.fit_intercept:
            self.intercept_, self.coef_ = beta[0], beta[1:]
        else:
            self.intercept_, self.coef_ = np.zeros(arr.shape[1]), beta
        self.covariate_names_ = (
            [str(c) for c in C.columns] if isinstance(C, pd.DataFrame)
            else [f"covariate{i}" for i in range(Cm.shape[1])]
        )
        return self

    def transform(self, X: Any, covariates: Any = None) -> Any:
        """Residuals of X (n_samples, n_features) after removing the fitted covariate part."""
        Xf, C = self._split(X, covariates)
        arr = self._validate(Xf, reset=False)
        Cm = self._covariates(self._named_like_fit(C), arr.shape[0])
        if Cm.shape[1] != self.coef_.shape[0]:
            raise ValueError(
                f"CovariateResidualizer: {Cm.shape[1]} covariate column(s) given, fitted with "
                f"{self.coef_.shape[0]} ({self.covariate_names_})"
            )
        return self._wrap(arr - self.intercept_ - Cm @ self.coef_, Xf)

    def fit_transform(self, X: Any, covariates: Any = None, y: Any = None) -> Any:
        return self.fit(X, covariates).transform(X, covariates)


class Standardizer(_Transformer):
    """Centre and scale each column with the training mean and standard deviation.

    NaN are ignored in ``fit`` and kept in ``transform``. Constant columns (SD below
    ``min_std``) are never divided by ~0: their scale is floored to 1, so they are
    only centred (a warning names them); the output never contains NaN from a zero SD.

    Parameters
    ----------
    with_mean, with_std : bool, default True
    ddof : int, default 0
        Delta degrees of freedom of the SD (1 gives MATLAB's ``zscore``).
    min_std : float, default 1e-8
        SD floor below which a column counts as constant.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
    scale_ : ndarray of shape (n_features,)
        The divisor (1 for constant columns or with_std=False).
    constant_ : ndarray of bool, shape (n_features,)
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True, ddof: int = 0, min_std: float = 1e-8) -> None:
        self.with_mean = with_mean
        self.with_std = with_std
        self.ddof = ddof
        self.min_std = min_std

    def fit(self, X: Any, y: Any = None) -> "Standardizer":
        """Learn the column means and SDs of the training data X (n_samples, n_features)."""
        if not self.min_std >= 0:
            raise ValueError(f"Standardizer: min_std must be >= 0, got {self.min_std!r}")
        arr = self._validate(X, reset=True)
        n_min = int(np.min(np.sum(~np.isnan(arr), axis=0), initial=arr.shape[0]))
        if isinstance(self.ddof, bool) or not isinstance(self.ddof, numbers.Integral) or not 0 <= self.ddof < max(n_min, 1):
            raise ValueError(f"Standardizer: ddof must be an integer in [0, {max(n_min, 1) - 1}] (fewer than the "
                             f"observed values of every column, {n_min} at least), got {self.ddof!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(arr, axis=0)
            sd, _ = column_spread(arr, ddof=self.ddof, skip_nan=True)  # no overflow near 1e160
        empty = np.isnan(mean)
        if empty.any():
            raise ValueError(
                f"Standardizer: column(s) {_names(empty, self._input_names())} have no observed "
                "value; drop them or impute first"
            )
        sd = np.nan_to_num(sd, nan=0.0)
        self.constant_ = sd <= self.min_std
        if self.constant_.any() and self.with_std:
            msg = (f"Standardizer: {int(self.constant_.sum())} constant column(s) "
                   f"{_names(self.constant_, self._input_names())} (SD <= {self.min_std:g}); "
                   "they are centred but not scaled")
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            log.warning(msg)
        self.mean_ = mean if self.with_mean else np.zeros_like(mean)
        self.scale_ = np.where(self.constant_, 1.0, sd) if self.with_std else np.ones_like(sd)
        return self

    def transform(self, X: Any) -> Any:
        """(X - mean_) / scale_ for X of shape (n_samples, n_features)."""
        arr = self._validate(X, reset=False)
        return self._wrap((arr - self.mean_) / self.scale_, X)

    def inverse_transform(self, X: Any) -> Any:
        arr = self._validate(X, reset=False)
        return self._wrap(arr * self.scale_ + self.mean_, X)


class NonnegativeScaler(_Transformer):
    """Min-max scale each column to [0, 1] with the training range (for NMF inputs).

    NMF needs nonnegative data; standardised imaging or expression values are not. This
    maps each feature with ``(x - min_train) / (max_train - min_train)``; values of new
    data outside the training range are clipped to [0, 1] (the count is logged), so the
    output is always a valid NMF input. It preserves each feature's ordering of samples
    but not its mean or sign structure; fit it inside each training fold. Genotype
    dosages (0/1/2) are already nonnegative and can be given to NMF as they are or
    scaled with this to put every modality on the same [0, 1] range.

    Constant training columns map to 0 (a warning names them).

    Parameters
    ----------
    clip : bool, default True
        Clip transformed new data to [0, 1]; with False, values may leave the range.

    Attributes
    ----------
    data_min_, data_max_ : ndarray of shape (n_features,)
    scale_ : ndarray of shape (n_features,)
        ``data_max_ - data_min_`` (1 for constant columns).

    Examples
    --------
    >>> NonnegativeScaler().fit([[0.0], [4.0]]).transform([[2.0], [9.0], [-1.0]]).ravel().tolist()
    [0.5, 1.0, 0.0]
    """

    def __init__(self, clip: bool = True) -> None:
        self.clip = clip

    def fit(self, X: Any, y: Any = None) -> "NonnegativeScaler":
        """Learn per-column minima and maxima of the training data X (n_samples, n_features)."""
        arr = self._validate(X, reset=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanmin(arr, axis=0), np.nanmax(arr, axis=0)
        if np.isnan(lo).any():
            raise ValueError(
                f"NonnegativeScaler: column(s) {_names(np.isnan(lo), self._input_names())} have no "
                "observed value; drop them or impute first"
            )
        span = hi - lo
        constant = span <= 0
        if constant.any():
            msg = (f"NonnegativeScaler: {int(constant.sum())} constant column(s) "
                   f"{_names(constant, self._input_names())}; they map to 0")
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            log.warning(msg)
        self.data_min_, self.data_max_ = lo, hi
        self.scale_ = np.where(constant, 1.0, span)
        return self

    def transform(self, X: Any) -> Any:
        """Scaled X (n_samples, n_features), in [0, 1] when ``clip``."""
        arr = self._validate(X, reset=False)
        out = (arr - self.data_min_) / self.scale_
        if self.clip:
            outside = (out < 0) | (out > 1)
            if outside.any():
                log.info("NonnegativeScaler: clipped %d value(s) outside the training range to [0, 1]",
                         int(outside.sum()))
                out = np.clip(out, 0.0, 1.0)
        return self._wrap(out, X)


class PositiveNegativeSplit(_Transformer):
    """Nonnegative NMF input from signed data: each feature split into its positive
    and negative parts, ``[max(X, 0), max(-X, 0)]`` (the jNMF convention; spec
    joint_nmf.md, implementation note 11).

    Unlike :class:`NonnegativeScaler`, nothing is learnt from the training data and
    nothing is lost: zero stays zero, the sign of every value is kept in which half
    it lands, and ``X = positive - negative`` (:meth:`inverse_transform`). The price
    is twice the features; a co-module member ``j`` maps back to input feature
    ``j mod p`` and its sign (:meth:`source_features`). Use it for centred or
    standardised data whose sign means something (e.g. residualised measures);
    data that are nonnegative already (dosages, volumes, log-expression) need no
    transform.

    Output columns: the p positive parts (names ``<name>+``), then the p negative
    parts (``<name>-``).

    Examples
    --------
    >>> PositiveNegativeSplit().fit_transform([[1.5, -2.0], [0.0, 3.0]]).tolist()
    [[1.5, 0.0, 0.0, 2.0], [0.0, 3.0, 0.0, 0.0]]
    """

    _allow_nan = False

    def fit(self, X: Any, y: Any = None) -> "PositiveNegativeSplit":
        """Record the input columns of X (n_samples, n_features); nothing else is learnt."""
        self._validate(X, reset=True)
        return self

    def transform(self, X: Any) -> Any:
        """``[max(X, 0), max(-X, 0)]``, shape (n_samples, 2 n_features)."""
        arr = self._validate(X, reset=False)
        return self._wrap(np.hstack([np.maximum(arr, 0.0), np.maximum(-arr, 0.0)]), X)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``<name>+`` for the positive parts, then ``<name>-`` for the negative parts."""
        names = super().get_feature_names_out(input_features)
        return np.array([f"{n}+" for n in names] + [f"{n}-" for n in names], dtype=object)

    def inverse_transform(self, Z: Any) -> Any:
        """``positive - negative``: Z (n_samples, 2 n_features) back to (n_samples, n_features)."""
        check_is_fitted(self)
        arr = check_matrix(Z, "PositiveNegativeSplit: Z", allow_nan=False)
        p = self.n_features_in_
        if arr.shape[1] != 2 * p:
            raise ValueError(f"PositiveNegativeSplit: Z has {arr.shape[1]} columns; expected 2 x {p} = {2 * p}")
        out = arr[:, :p] - arr[:, p:]
        if isinstance(Z, pd.DataFrame):
            return pd.DataFrame(out, index=Z.index, columns=list(self._input_names()))
        return out

    def source_features(self, indices: Any) -> tuple[np.ndarray, np.ndarray]:
        """Input feature and sign (+1 or -1) of output columns ``indices``.

        Parameters
        ----------
        indices : array-like of int, values in [0, 2 n_features)

        Returns
        -------
        features : ndarray of int, same shape as ``indices``
        signs : ndarray of int, +1 for positive parts, -1 for negative parts
        """
        check_is_fitted(self)
        idx = np.asarray(indices)
        p = self.n_features_in_
        if idx.size and (not np.issubdtype(idx.dtype, np.integer) or idx.min() < 0 or idx.max() >= 2 * p):
            raise ValueError(f"indices: expected integers in [0, {2 * p}), got {idx.ravel()[:5].tolist()}")
        idx = idx.astype(np.int64)
        return idx % p, np.where(idx < p, 1, -1)
