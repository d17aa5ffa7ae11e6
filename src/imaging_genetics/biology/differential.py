"""Differential expression between two diagnostic groups.

* :func:`moderated_t_test` — empirical-Bayes moderated t-statistic (Smyth 2004), the
  statistic of limma's two-group comparison: gene-wise variances are shrunk towards a
  common prior value estimated from all genes, which gains power when there are few
  samples and many genes.
* :func:`welch_t_test` — the plain two-sample t-test with unequal variances.
* :class:`DifferentialExpressionFilter` — a scikit-learn transformer that keeps the
  genes with p < alpha (the JCB-SNMF paper kept p < 0.01) or FDR < q, fit on
  training samples only.

All results are tidy DataFrames with one row per gene, in the input order, with
columns ``gene, mean_difference, mean_case, mean_control, t, df, p, fdr``.
``mean_difference`` is mean(case) − mean(control); on log-expression data it is
limma's ``logFC``.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats
from sklearn.base import BaseEstimator, TransformerMixin

from ..base import PersistenceMixin
from ._common import EPS, align_labels, as_matrix, benjamini_hochberg, two_groups

__all__ = [
    "moderated_t_test",
    "welch_t_test",
    "estimate_prior",
    "trigamma_inverse",
    "DifferentialExpressionFilter",
]


# --------------------------------------------------------------------------- helpers


def trigamma_inverse(x: Any) -> np.ndarray:
    """Solve trigamma(y) = x for y > 0 by Newton's method (Smyth 2004, appendix).

    Parameters
    ----------
    x : float or array-like, > 0

    Returns
    -------
    ndarray (same shape as x)
    """
    x = np.asarray(x, dtype=np.float64)
    if np.any(~(x > 0)):
        raise ValueError("trigamma_inverse: x must be positive")
    # trigamma(y) ~ 1/y + 1/(2 y^2) for large y, ~ 1/y^2 for small y
    y = np.where(x > 1e7, 1.0 / np.sqrt(x), np.where(x < 1e-6, 1.0 / x, 0.5 + 1.0 / x))
    active = (x >= 1e-6) & (x <= 1e7)
    for _ in range(100):
        if not active.any():
            break
        tri = special.polygamma(1, y)
        delta = tri * (1.0 - tri / x) / special.polygamma(2, y)
        y = np.where(active, y + delta, y)
        active = active & (-delta / y > 1e-8)
    return y


def _floored_variances(s2: np.ndarray) -> np.ndarray:
    """Variances with exact zeros moved away from zero, as limma's ``fitFDist`` does.

    limma's ``fitFDist`` ("Avoid exactly zero values"): ``x <- pmax(x, 0)``,
    ``m <- median(x)``; if ``m == 0`` it warns "More than half of residual
    variances are exactly zero: eBayes unreliable" and sets ``m <- 1``; then
    ``x <- pmax(x, 1e-5 * m)``. The floor is thus 1e-5 times the median of all
    variances, zeros included. Where more than half are zero this warns likewise
    but takes the median of the positive variances (1 when there is none) instead
    of limma's 1, so that the floor scales with the data.
    """
    s2 = np.maximum(s2, 0.0)
    med = float(np.median(s2))
    if med == 0.0:
        warnings.warn(
            f"More than half of the residual variances ({int((s2 == 0).sum())} of "
            f"{s2.size}) are exactly zero: the empirical-Bayes prior is unreliable "
            "(constant genes? drop them before testing)",
            UserWarning,
            stacklevel=3,
        )
        positive = s2[s2 > 0]
        med = float(np.median(positive)) if positive.size else 1.0
    return np.maximum(s2, 1e-5 * med)


def _log_variance_moments(s2: np.ndarray, df: float) -> tuple[float, float]:
    """Mean of e_g = log s_g² − ψ(d/2) + log(d/2) and its variance minus ψ'(d/2).

    ``s2`` must already be floored (:func:`_floored_variances`).
    """
    half = df / 2.0
    e = np.log(s2) - special.digamma(half) + np.log(half)
    emean = float(e.mean())
    if e.size < 2:
        return emean, 0.0
    evar = float(((e - emean) ** 2).sum() / (e.size - 1)) - float(special.polygamma(1, half))
    return emean, evar


def estimate_prior(variances: Any, df: float) -> tuple[float, float]:
    """Prior degrees of freedom d0 and prior variance s0² for the gene-wise variances.

    Method of moments on log variances (Smyth 2004, section 6.2): with
    e_g = log s_g² − ψ(d/2) + log(d/2), the mean of e_g estimates log s0² − ψ(d0/2)
    + log(d0/2) and the variance of e_g estimates ψ'(d/2) + ψ'(d0/2), where ψ and ψ'
    are the digamma and trigamma functions.

    This is limma's ``fitFDist`` without covariate. Variances that are exactly zero
    are first raised to 1e-5 times the median of all variances (limma's rule; with
    a warning when more than half are zero, see Warns).

    Parameters
    ----------
    variances : array-like of shape (n_genes,)
        Residual variances s_g² (finite, >= 0), each on ``df`` degrees of freedom.
    df : float
        Residual degrees of freedom d (n_case + n_control − 2 for two groups), > 0.

    Returns
    -------
    prior_df : float
        d0; ``inf`` when the variances vary no more than sampling error alone
        explains (then every gene gets the common variance).
    prior_var : float
        s0²; with d0 = ``inf`` the mean of the variances (the pooled variance, the
        maximum-likelihood estimate of the common variance), as in current limma.

    Raises
    ------
    ValueError
        Fewer than two variances, negative or non-finite variances, df <= 0.

    Warns
    -----
    UserWarning
        More than half of the variances are exactly zero (limma: "eBayes
        unreliable"); the floor is then 1e-5 times the median of the positive ones.
    """
    s2 = np.asarray(variances, dtype=np.float64).ravel()
    if s2.size < 2:
        raise ValueError("estimate_prior: needs at least two genes")
    if not np.isfinite(s2).all() or (s2 < 0).any():
        bad = s2[~np.isfinite(s2) | (s2 < 0)]
        raise ValueError(
            f"variances: {bad.size} value(s) negative or not finite (e.g. {bad[0]!r}); "
            "pass residual variances s_g^2 >= 0"
        )
    if not (np.isfinite(df) and df > 0):
        raise ValueError(f"df: residual degrees of freedom must be finite and > 0, got {df!r}")
    return _prior_from_floored(_floored_variances(s2), float(df))


def _prior_from_floored(x: np.ndarray, df: float) -> tuple[float, float]:
    """(d0, s0²) from floored variances ``x`` on ``df`` degrees of freedom."""
    emean, evar = _log_variance_moments(x, df)
    if evar > 0:
        d0 = float(2.0 * trigamma_inverse(evar))
        s0sq = float(np.exp(emean + special.digamma(d0 / 2.0) - np.log(d0 / 2.0)))
    else:
        # limma fitFDist (since Jan 2017): "Use simple pooled variance, which is MLE
        # of the scale in this case. Versions of limma before Jan 2017 returned the
        # limiting value of the evar>0 estimate, which is larger." -> s20 <- mean(x)
        d0 = np.inf
        s0sq = float(np.mean(x))
    return d0, s0sq


def _split(expression: Any, groups: Any, levels: Sequence[Any] | None, min_per_group: int):
    X, genes = as_matrix(expression, "expression")
    groups = align_labels(expression, groups, "groups")
    case, control, (case_label, control_label) = two_groups(
        groups, X.shape[0], "groups", levels=levels
    )
    n1, n2 = int(case.sum()), int(control.sum())
    if min(n1, n2) < min_per_group or n1 + n2 < 3:
        raise ValueError(
            f"groups: needs at least {min_per_group} sample(s) per group and 3 in all; got "
            f"{n1} with label {case_label!r} and {n2} with label {control_label!r}"
        )
    return X[case], X[control], genes, (case_label, control_label)


def _frame(genes, m1, m2, t, df, p, attrs) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "gene": genes,
            "mean_difference": m1 - m2,
            "mean_case": m1,
            "mean_control": m2,
            "t": t,
            "df": np.broadcast_to(np.asarray(df, dtype=np.float64), t.shape).copy(),
            "p": p,
            "fdr": benjamini_hochberg(p),
        }
    )
    out.attrs.update(attrs)
    return out


# --------------------------------------------------------------------------- tests


def moderated_t_test(
    expression: Any,
    groups: Any,
    *,
    levels: Sequence[Any] | None = None,
    prior_df: float | None = None,
    prior_var: float | None = None,
) -> pd.DataFrame:
    """Empirical-Bayes moderated t-test between two groups, gene by gene.

    Implements Smyth (2004) for the two-group design: with pooled residual variance
    s_g² on d = n1 + n2 − 2 degrees of freedom, a scaled inverse-χ² prior
    1/σ_g² ~ χ²_{d0} / (d0 s0²) is estimated from all genes (:func:`estimate_prior`),
    each variance is replaced by its posterior mean

        s̃_g² = (d0 s0² + d s_g²) / (d0 + d),

    and t̃_g = (x̄_case − x̄_control) / (s̃_g √(1/n1 + 1/n2)) follows a t distribution
    on d + d0 degrees of freedom under the null (eq. 4–5 of the paper). When s0² is
    estimated from the data, the total is capped at the pooled residual degrees of
    freedom G·d (limma's ``df.total <- pmin(df.residual + df.prior, sum(df.residual))``):
    the G genes hold no more information about a common variance than that, so
    d0 = ∞ (all genes share the pooled variance) gives t on G·d df. When both
    ``prior_df`` and ``prior_var`` are given, the prior is taken as known and the df
    is d + d0 uncapped; ``prior_df=np.inf`` then gives normal p-values (df = ∞).

    Parameters
    ----------
    expression : array-like or DataFrame of shape (n_samples, n_genes)
        Expression values (log scale for fold changes). DataFrame columns name the
        genes. No missing values.
    groups : array-like of shape (n_samples,)
        Diagnosis label per sample, in row order; a Series indexed by sample ID
        is aligned to the index of a DataFrame or Series of expression (an error
        when a sample has no label).
    levels : (case, control), optional
        The two labels to compare, as a pair, e.g. ``("AD", "HC")`` (a single
        string is an error); samples with other labels are left out. ``None``:
        ``groups`` must have exactly two labels; the sorted first one is the
        control.
    prior_df, prior_var : float, optional
        Fix d0 (and s0²) instead of estimating them. ``prior_df=0`` gives the
        ordinary pooled two-sample t-test; ``prior_df=np.inf`` with ``prior_var``
        gives a z-test with known variance (df = ∞); ``prior_df=np.inf`` alone uses
        the pooled variance of all genes (t on G·d df). ``prior_df`` alone (finite)
        estimates s0² from the mean log variance.

    Returns
    -------
    DataFrame with one row per gene (input order)
        ``gene, mean_difference, mean_case, mean_control, t, df, p, fdr``
        (two-sided p; fdr by Benjamini–Hochberg). ``attrs`` holds ``prior_df``,
        ``prior_var``, ``levels`` and ``test``.

    Raises
    ------
    ValueError
        Labels not resolving to two groups, ``levels`` not a pair, lengths that
        differ, sample IDs without a label, NaN or infinite expression, fewer than
        3 samples in all.

    Warns
    -----
    UserWarning
        More than half of the genes have zero residual variance
        (:func:`estimate_prior`), or a single gene (no prior can be estimated).

    References
    ----------
    Smyth, G. K. (2004). Linear models and empirical Bayes methods for assessing
    differential expression in microarray experiments. Stat. Appl. Genet. Mol. Biol.
    3(1), Article 3.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(6, 50)); X[:3, 0] += 3
    >>> res = moderated_t_test(X, ["AD"] * 3 + ["HC"] * 3, levels=("AD", "HC"))
    >>> list(res.columns)[:3]
    ['gene', 'mean_difference', 'mean_case']
    """
    A, B, genes, lv = _split(expression, groups, levels, min_per_group=1)
    n1, n2 = A.shape[0], B.shape[0]
    m1, m2 = A.mean(axis=0), B.mean(axis=0)
    d = float(n1 + n2 - 2)
    s2 = (((A - m1) ** 2).sum(axis=0) + ((B - m2) ** 2).sum(axis=0)) / d
    G = s2.size
    if prior_df is None:
        if prior_var is not None:
            raise ValueError("prior_var: give prior_df too (or neither, to estimate both)")
        if G < 2:
            warnings.warn(
                "moderated_t_test: one gene only, no prior can be estimated; "
                "this is the ordinary pooled t-test",
                UserWarning,
                stacklevel=2,
            )
            d0, s0sq = 0.0, float(s2[0])
        else:
            d0, s0sq = _prior_from_floored(_floored_variances(s2), d)
    else:
        d0 = float(prior_df)
        if not d0 >= 0:
            raise ValueError(f"prior_df must be >= 0, got {prior_df!r}")
        if prior_var is None:
            if d0 == 0:
                s0sq = float(np.mean(s2))
            elif np.isinf(d0):
                # a common variance: the pooled one, as estimate_prior gives for d0 = inf
                s0sq = float(np.mean(_floored_variances(s2)))
            else:
                # s0² given d0: the first moment of the log variances
                emean, _ = _log_variance_moments(_floored_variances(s2), d)
                s0sq = float(np.exp(emean + special.digamma(d0 / 2.0) - np.log(d0 / 2.0)))
        else:
            s0sq = float(prior_var)
            if not s0sq > 0:
                raise ValueError(f"prior_var must be > 0, got {prior_var!r}")
    if np.isinf(d0):
        post = np.full_like(s2, s0sq)
    else:
        post = (d0 * s0sq + d * s2) / (d0 + d)
    se = np.sqrt(np.maximum(post, 0.0) * (1.0 / n1 + 1.0 / n2))
    diff = m1 - m2
    t = diff / np.maximum(se, EPS * np.maximum(1.0, np.abs(diff)))
    if prior_var is not None:
        df_total = d + d0  # known prior: no cap; inf -> normal p-values
    else:
        df_total = min(d + d0, G * d)  # s0² estimated from the G genes (limma's cap)
    if np.isinf(df_total):
        p = 2.0 * stats.norm.sf(np.abs(t))
    else:
        p = 2.0 * stats.t.sf(np.abs(t), df_total)
    return _frame(
        genes,
        m1,
        m2,
        t,
        df_total,
        p,
        {"test": "moderated_t", "prior_df": d0, "prior_var": s0sq, "levels": lv},
    )


def welch_t_test(
    expression: Any, groups: Any, *, levels: Sequence[Any] | None = None
) -> pd.DataFrame:
    """Welch's two-sample t-test (unequal variances), gene by gene.

    t = (x̄_case − x̄_control) / √(s_case²/n1 + s_control²/n2) with the
    Welch–Satterthwaite degrees of freedom; matches
    ``scipy.stats.ttest_ind(case, control, equal_var=False)``.

    Parameters
    ----------
    expression : array-like or DataFrame of shape (n_samples, n_genes)
    groups : array-like of shape (n_samples,)
        As in :func:`moderated_t_test` (a Series indexed by sample ID is aligned to
        the index of a DataFrame or Series of expression).
    levels : (case, control), optional
        As in :func:`moderated_t_test`.

    Returns
    -------
    DataFrame (one row per gene, input order)
        ``gene, mean_difference, mean_case, mean_control, t, df, p, fdr``.
        A gene constant within both groups gets t = 0, p = 1 when the means are
        equal and a very large |t| otherwise (the standard error is floored).

    Raises
    ------
    ValueError
        As :func:`moderated_t_test`; also fewer than 2 samples in a group.

    References
    ----------
    Welch, B. L. (1947). The generalization of 'Student's' problem when several
    different population variances are involved. Biometrika 34, 28–35.
    """
    A, B, genes, lv = _split(expression, groups, levels, min_per_group=2)
    n1, n2 = A.shape[0], B.shape[0]
    m1, m2 = A.mean(axis=0), B.mean(axis=0)
    a = A.var(axis=0, ddof=1) / n1
    b = B.var(axis=0, ddof=1) / n2
    se2 = a + b
    diff = m1 - m2
    t = diff / np.maximum(np.sqrt(se2), EPS * np.maximum(1.0, np.abs(diff)))
    denom = a**2 / (n1 - 1) + b**2 / (n2 - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(denom > 0, se2**2 / np.maximum(denom, np.finfo(float).tiny), n1 + n2 - 2.0)
    p = 2.0 * stats.t.sf(np.abs(t), df)
    return _frame(genes, m1, m2, t, df, p, {"test": "welch_t", "levels": lv})


# --------------------------------------------------------------------------- filter


class DifferentialExpressionFilter(PersistenceMixin, TransformerMixin, BaseEstimator):
    """Keep the genes that differ between two diagnostic groups (fit on training data).

    The JCB-SNMF paper screened expression with limma and kept the genes with
    p < 0.01 before the factorisation; this is the default here.

    Parameters
    ----------
    method : {"moderated", "welch"}
        :func:`moderated_t_test` (Smyth 2004) or :func:`welch_t_test`.
    alpha : float, default 0.01
        Keep genes with raw two-sided p < alpha (used when ``fdr`` is None; then
        required).
    fdr : float, optional
        Keep genes with Benjamini–Hochberg adjusted p < fdr instead.
    levels : (case, control), optional
        The two labels of ``y`` to compare, as a pair (e.g. ``("AD", "HC")``; a
        single string is an error); other samples are left out of the test, but
        every sample is transformed.

    Attributes
    ----------
    support_ : ndarray of bool, shape (n_genes,)
        Kept genes.
    statistics_, pvalues_, fdr_, mean_difference_ : ndarray of shape (n_genes,)
    df_ : ndarray of shape (n_genes,)
    prior_df_, prior_var_ : float
        d0 and s0² (moderated method; NaN for Welch).
    feature_names_in_ : ndarray of str, shape (n_genes,)
    n_features_in_ : int
    results_ : DataFrame (property)
        The full table of the test on the training samples.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 100)); X[:10, :5] += 3
    >>> y = np.array(["AD"] * 10 + ["HC"] * 10)
    >>> DifferentialExpressionFilter().fit(X, y).transform(X).shape[1] >= 5
    True
    """

    def __init__(
        self,
        method: str = "moderated",
        alpha: float = 0.01,
        fdr: float | None = None,
        levels: Sequence[Any] | None = None,
    ) -> None:
        self.method = method
        self.alpha = alpha
        self.fdr = fdr
        self.levels = levels

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True  # the group labels
        tags.input_tags.allow_nan = False
        return tags

    def fit(self, X: Any, y: Any = None) -> "DifferentialExpressionFilter":
        """Test every gene of X between the two groups in y.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_genes)
        y : array-like of shape (n_samples,)
            Group labels (required).
        """
        if y is None:
            raise ValueError(
                "DifferentialExpressionFilter.fit: needs the group labels y (e.g. diagnosis)"
            )
        if self.method not in ("moderated", "welch"):
            raise ValueError(f"method must be 'moderated' or 'welch', got {self.method!r}")
        for nm, val in (("alpha", self.alpha), ("fdr", self.fdr)):
            if val is None:
                continue
            if isinstance(val, bool) or not isinstance(val, numbers.Real):
                raise ValueError(f"{nm} must be a number in (0, 1], got {val!r}")
            if not (0 < float(val) <= 1):
                raise ValueError(f"{nm} must be in (0, 1], got {val!r}")
        if self.alpha is None and self.fdr is None:
            raise ValueError("alpha: required (a number in (0, 1]) when fdr is None")
        levels = self.levels  # checked (a pair, not a string) by the test functions
        if self.method == "moderated":
            res = moderated_t_test(X, y, levels=levels)
        else:
            res = welch_t_test(X, y, levels=levels)
        self.feature_names_in_ = np.asarray(res["gene"].astype(str).to_numpy(), dtype=str)
        self.n_features_in_ = int(self.feature_names_in_.shape[0])
        self.statistics_ = res["t"].to_numpy(dtype=np.float64)
        self.pvalues_ = res["p"].to_numpy(dtype=np.float64)
        self.fdr_ = res["fdr"].to_numpy(dtype=np.float64)
        self.df_ = res["df"].to_numpy(dtype=np.float64)
        self.mean_difference_ = res["mean_difference"].to_numpy(dtype=np.float64)
        self.prior_df_ = float(res.attrs.get("prior_df", np.nan))
        self.prior_var_ = float(res.attrs.get("prior_var", np.nan))
        if self.fdr is not None:
            self.support_ = self.fdr_ < float(self.fdr)
        else:
            self.support_ = self.pvalues_ < float(self.alpha)
        if not self.support_.any():
            crit = f"FDR < {self.fdr}" if self.fdr is not None else f"p < {self.alpha}"
            warnings.warn(
                f"DifferentialExpressionFilter: no gene passes {crit}; transform returns "
                "zero columns",
                UserWarning,
                stacklevel=2,
            )
        return self

    @property
    def results_(self) -> pd.DataFrame:
        self._check_fitted()
        out = pd.DataFrame(
            {
                "gene": self.feature_names_in_,
                "mean_difference": self.mean_difference_,
                "t": self.statistics_,
                "df": self.df_,
                "p": self.pvalues_,
                "fdr": self.fdr_,
                "selected": self.support_,
            }
        )
        return out

    def _check_fitted(self) -> None:
        if not hasattr(self, "support_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                "DifferentialExpressionFilter is not fitted yet; call fit(X, y) first"
            )

    def get_support(self, indices: bool = False) -> np.ndarray:
        """Mask (or positions, with ``indices=True``) of the kept genes."""
        self._check_fitted()
        return np.flatnonzero(self.support_) if indices else self.support_.copy()

    def transform(self, X: Any) -> Any:
        """Keep the selected columns; a DataFrame stays a DataFrame.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_genes)

        Returns
        -------
        array or DataFrame of shape (n_samples, n_selected)
        """
        self._check_fitted()
        arr, names = as_matrix(X, "X", min_samples=1)
        if arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X: has {arr.shape[1]} genes (columns), the filter was fit on "
                f"{self.n_features_in_}"
            )
        if hasattr(X, "columns"):
            if not np.array_equal(names, self.feature_names_in_):
                raise ValueError(
                    "X: column names differ from those seen in fit; pass the same genes "
                    "in the same order"
                )
            return X.iloc[:, np.flatnonzero(self.support_)]
        return arr[:, self.support_]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the kept genes (object array, as scikit-learn returns them)."""
        self._check_fitted()
        names = self.feature_names_in_ if input_features is None else np.asarray(input_features, dtype=str)
        if names.shape[0] != self.n_features_in_:
            raise ValueError(
                f"input_features: has {names.shape[0]} names, expected {self.n_features_in_}"
            )
        return np.asarray(names[self.support_], dtype=object)
