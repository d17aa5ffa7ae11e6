"""Clinical-score prediction from CCA results (the paper's Table 6, spec §11.1).

An outcome (e.g. the Pittsburgh Sleep Quality Index) is predicted by ridge
regression from what a CCA model finds, evaluated by k-fold cross-validation:

* ``features="variates"``: the canonical variates ``X u_k`` and ``Y_k v_k``
  (Kx + K columns);
* ``features="selected"``: the raw columns of the top-ranked SNPs (row norm of
  ``x_weights_``) and regions (``|v_k|``) of every modality;
* ``estimator=None``: the columns of X as given (e.g. features chosen elsewhere).

No leakage: in every fold the CCA model, the feature ranking, the feature
standardisation and the ridge penalty (``RidgeCV`` over ``alphas``, efficient
leave-one-out) are all fitted on the training rows only. RMSE and Pearson r are
computed on the pooled out-of-fold predictions (and per fold in ``.table``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .._stats import pearson
from .._validation import check_row_labels
from ._parallel import base_seed, derive_seed, run_tasks
from .cv import Prior, _check_n_jobs, _seed_estimator, as_arrays, make_folds, prior_fit_params
from .metrics import first_component

__all__ = ["predict_outcome", "PredictionResult"]


def _features(est, X, Ys, kind, n_x, n_y, ranking):
    if est is None:
        return X
    if kind == "variates":
        xs, ys = est.transform(X, Ys)
        xs = np.asarray(xs, dtype=np.float64)
        if xs.ndim == 3:
            xs = xs[:, :, 0]
        Kx = ranking["Kx"]
        cols = [xs[:, :Kx]] + [np.asarray(y, dtype=np.float64).reshape(len(y), -1)[:, :1] for y in ys]
        return np.column_stack(cols)
    return np.column_stack([X[:, ranking["x"]]] + [Y[:, idx] for Y, idx in zip(Ys, ranking["y"])])


def _fold_task(estimator, X, Ys, y, train, test, features, n_x, n_y, alphas, prior, seed) -> dict:
    import warnings

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    est, ranking = None, None
    Ytr = [Y[train] for Y in Ys]
    if estimator is not None:
        est = clone(estimator)
        _seed_estimator(est, seed)
        kw = prior_fit_params(est, X[train], Ytr, prior)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X[train], Ytr, **kw)
        W, Vs = first_component(est)
        rn = np.sqrt((W * W).sum(axis=1))
        ranking = {"Kx": W.shape[1], "x": np.argsort(-rn, kind="stable")[:n_x],
                   "y": [np.argsort(-np.abs(v), kind="stable")[:n_y] for v in Vs]}
    Ftr = _features(est, X[train], Ytr, features, n_x, n_y, ranking)
    Fte = _features(est, X[test], [Y[test] for Y in Ys], features, n_x, n_y, ranking)
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.asarray(alphas, dtype=np.float64)))
    model.fit(Ftr, y[train])
    pred = model.predict(Fte)
    return {"prediction": np.asarray(pred, dtype=np.float64), "alpha": float(model[-1].alpha_),
            "n_features": int(Ftr.shape[1])}


@dataclass
class PredictionResult:
    """Result of :func:`predict_outcome`.

    Attributes
    ----------
    rmse : float
        Root mean squared error of the pooled out-of-fold predictions.
    r : float
        Pearson correlation between pooled out-of-fold predictions and the outcome.
    predictions : ndarray (n,)
        Out-of-fold prediction of every sample.
    table : DataFrame
        Per fold: ``fold``, ``rmse``, ``r``, ``alpha`` (chosen ridge penalty),
        ``n_features``, ``n_test``.
    """

    rmse: float
    r: float
    predictions: np.ndarray
    table: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """One row: ``rmse``, ``r`` (pooled) and the fold mean and SD of both."""
        t = self.table
        return pd.DataFrame([{"rmse": self.rmse, "r": self.r, "rmse_fold_mean": t["rmse"].mean(),
                              "rmse_fold_sd": t["rmse"].std(ddof=1), "r_fold_mean": t["r"].mean(),
                              "r_fold_sd": t["r"].std(ddof=1)}])


def predict_outcome(
    estimator: Any,
    X: Any,
    Ys: Sequence[Any] | None,
    outcome: Any,
    *,
    features: str = "variates",
    n_selected: int | tuple[int, int] = 10,
    cv: Any = 5,
    alphas: Sequence[float] = tuple(np.logspace(-3, 3, 13)),
    prior: Prior = "correlation",
    random_state: Any = None,
    n_jobs: int | None = 1,
) -> PredictionResult:
    """Cross-validated ridge prediction of a clinical score from CCA features.

    Parameters
    ----------
    estimator : CCA-family estimator, or None
        None: predict from the columns of ``X`` directly (``Ys`` may be None).
    X : array-like (n, p)
    Ys : list of K array-likes (n, q_k), or None with ``estimator=None``
    outcome : array-like (n,)
        The clinical score; must be finite.
    features : {"variates", "selected"}
        See the module docstring.
    n_selected : int or (int, int), default 10
        Number of top SNPs and of top regions per modality for ``"selected"``.
    cv : int, splitter or (train, test) pairs, default 5
    alphas : sequence of float
        Ridge penalties searched by ``RidgeCV`` within each training part.
    prior : "correlation", None or callable
        Prior networks of the CCA fits, from training rows.
    random_state : int, optional
        Seeds the folds (and fits of estimators without a seed).
    n_jobs : int, optional

    Returns
    -------
    PredictionResult (``rmse``, ``r``, ``predictions`` (n,), per-fold ``table``,
    ``summary()``).
    """
    if features not in ("variates", "selected"):
        raise ValueError(f"features: expected 'variates' or 'selected', got {features!r}")
    if estimator is None:
        Xa = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X, dtype=np.float64)
        if Xa.ndim != 2:
            raise ValueError(f"X: expected a 2-D matrix (n_samples, n_features), got shape {Xa.shape}")
        Yl = [] if Ys is None else as_arrays(Xa, Ys)[1]
    else:
        Xa, Yl = as_arrays(X, Ys)
    _check_n_jobs(n_jobs)
    check_row_labels([X, outcome], ["X", "outcome"])  # a Series of scores by subject ID
    y = np.asarray(outcome.to_numpy() if hasattr(outcome, "to_numpy") else outcome, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (Xa.shape[0],):
        raise ValueError(f"outcome: expected one value per sample, shape ({Xa.shape[0]},), got {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError(f"outcome: {int((~np.isfinite(y)).sum())} missing or infinite values; drop those subjects first")
    if np.isscalar(n_selected):
        n_x = n_y = int(n_selected)
    else:
        n_x, n_y = (int(v) for v in n_selected)
    if n_x < 1 or n_y < 1:
        raise ValueError(f"n_selected: expected positive counts, got {n_selected!r}")
    seed = base_seed(random_state)
    folds = make_folds(cv, Xa.shape[0], derive_seed(seed, "folds"))
    tasks = [(f"fold/{f}", dict(estimator=estimator, X=Xa, Ys=Yl, y=y, train=tr, test=te, features=features,
                                n_x=n_x, n_y=n_y, alphas=alphas, prior=prior, seed=derive_seed(seed, "fit", f)))
             for f, (tr, te) in enumerate(folds)]
    res = run_tasks(_fold_task, tasks, n_jobs=n_jobs)
    pred = np.full(Xa.shape[0], np.nan)
    rows = []
    for f, (tr, te) in enumerate(folds):
        r = res[f"fold/{f}"]
        pred[te] = r["prediction"]
        err = y[te] - r["prediction"]
        rows.append({"fold": f, "rmse": float(np.sqrt(np.mean(err ** 2))), "r": pearson(y[te], r["prediction"]),
                     "alpha": r["alpha"], "n_features": r["n_features"], "n_test": int(te.size)})
    covered = ~np.isnan(pred)
    rmse = float(np.sqrt(np.mean((y[covered] - pred[covered]) ** 2)))
    return PredictionResult(rmse=rmse, r=pearson(y[covered], pred[covered]), predictions=pred,
                            table=pd.DataFrame(rows))
