"""Stability selection for the CCA family.

The model is refitted on many random subsamples (without replacement) of the
subjects; in every fit a feature is *selected* when its weight is large by an
explicit rule (reweighted penalties give no exact zeros, spec decision 10):

* ``top_k``: the k features with the largest ``|weight|`` (row norm across tasks
  for SNPs), or
* ``threshold`` (default 0.1): ``|weight| >= threshold * max |weight|``.

The selection frequency of a feature is the fraction of subsamples in which it was
selected. Features with a high frequency (e.g. >= 0.6 to 0.9, Meinshausen and
Bühlmann 2010) are the ones a researcher can trust; a frequency near the base rate
``top_k / p`` is what chance gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ._parallel import base_seed, derive_seed, run_tasks
from .cv import Prior, _check_n_jobs, _estimator_config, _describe_prior, _store, as_arrays, fit_evaluate

__all__ = ["stability_selection", "StabilityResult", "selected_mask"]


def selected_mask(score: np.ndarray, threshold: float | None, top_k: int | None) -> np.ndarray:
    """Boolean selection of a nonnegative score vector by ``top_k`` or relative ``threshold``."""
    score = np.asarray(score, dtype=np.float64)
    mask = np.zeros(score.shape[0], dtype=bool)
    if top_k is not None:
        order = np.argsort(-score, kind="stable")[: min(top_k, score.shape[0])]
        mask[order] = True
        return mask & (score > 0)
    top = score.max() if score.size else 0.0
    if top <= 0:
        return mask
    return score >= threshold * top


def _subsample_task(estimator, X, Ys, rows, prior, seed, threshold, top_k_x, top_k_y) -> dict:
    r = fit_evaluate(estimator, X, Ys, rows, None, {}, prior, seed, weights=True)
    W = np.abs(np.asarray(r["x_weights"]))
    rn = np.sqrt((W * W).sum(axis=1))
    return {
        "x": selected_mask(rn, threshold, top_k_x),
        "x_task": np.column_stack([selected_mask(W[:, k], threshold, top_k_x) for k in range(W.shape[1])]),
        "y": [selected_mask(np.abs(v), threshold, top_k_y) for v in r["y_weights"]],
    }


@dataclass
class StabilityResult:
    """Selection frequencies from :func:`stability_selection`.

    Attributes
    ----------
    x_frequency : ndarray (p,)
        Fraction of subsamples in which each SNP was selected (row norm across tasks).
    x_task_frequency : ndarray (p, Kx)
        Per task column of ``x_weights_`` (Kx = 1 for a shared SNP vector).
    y_frequency : list of K ndarrays (q_k,)
        Per imaging modality.
    n_subsamples : int
    x_names : list of str, y_names : list of lists of str
        Feature names (column names of DataFrame inputs, else ``x0, x1, ...``).
    """

    x_frequency: np.ndarray
    x_task_frequency: np.ndarray
    y_frequency: list
    n_subsamples: int
    x_names: list
    y_names: list

    @property
    def table(self) -> pd.DataFrame:
        """Tidy table: ``modality`` ("X" or "Y1".."YK"), ``feature``, ``index``, ``frequency``,
        sorted by modality then decreasing frequency."""
        parts = [pd.DataFrame({"modality": "X", "feature": self.x_names, "index": np.arange(len(self.x_names)),
                               "frequency": self.x_frequency})]
        for k, (f, names) in enumerate(zip(self.y_frequency, self.y_names)):
            parts.append(pd.DataFrame({"modality": f"Y{k + 1}", "feature": names, "index": np.arange(len(names)),
                                       "frequency": f}))
        t = pd.concat(parts, ignore_index=True)
        order = {m: i for i, m in enumerate(dict.fromkeys(t["modality"]))}
        t = t.assign(_m=t["modality"].map(order)).sort_values(["_m", "frequency", "index"],
                                                               ascending=[True, False, True], kind="stable")
        return t.drop(columns="_m").reset_index(drop=True)

    def stable_features(self, min_frequency: float = 0.6) -> dict:
        """Indices with frequency >= ``min_frequency``: ``{"X": ..., "Y1": ..., ...}``."""
        out = {"X": np.flatnonzero(self.x_frequency >= min_frequency)}
        for k, f in enumerate(self.y_frequency):
            out[f"Y{k + 1}"] = np.flatnonzero(f >= min_frequency)
        return out


def _names(a: Any, n: int, prefix: str) -> list:
    cols = getattr(a, "columns", None)
    return [str(c) for c in cols] if cols is not None else [f"{prefix}{j}" for j in range(n)]


def stability_selection(
    estimator: Any,
    X: Any,
    Ys: Sequence[Any],
    n_subsamples: int = 100,
    fraction: float = 0.5,
    *,
    threshold: float = 0.1,
    top_k: int | tuple[int, int] | None = None,
    prior: Prior = "correlation",
    random_state: Any = None,
    n_jobs: int | None = 1,
    results_path: Any = None,
    resume: bool = False,
    progress: bool = False,
) -> StabilityResult:
    """Selection frequency of every SNP and region over random subsamples.

    Parameters
    ----------
    estimator : CCA-family estimator (cloned for every subsample)
    X : array-like (n, p)
    Ys : list of K array-likes (n, q_k)
    n_subsamples : int, default 100
    fraction : float in (0, 1), default 0.5
        Subsample size ``floor(fraction * n)``, drawn without replacement.
    threshold : float in [0, 1], default 0.1
        Relative selection threshold (ignored when ``top_k`` is given).
    top_k : int or (int, int), optional
        Select the k largest SNPs and regions (a pair: k for SNPs, k for regions).
    prior : "correlation", None or callable
        Prior networks from each subsample.
    random_state, n_jobs, results_path, resume, progress
        As in :func:`imaging_genetics.inference.nested_cv`.

    Returns
    -------
    StabilityResult
        ``x_frequency`` (p,), ``x_task_frequency`` (p, Kx), ``y_frequency`` (K × (q_k,)),
        ``.table`` (tidy), ``.stable_features(min_frequency)``.
    """
    Xa, Yl = as_arrays(X, Ys)
    _check_n_jobs(n_jobs)
    n = Xa.shape[0]
    if isinstance(n_subsamples, bool) or not isinstance(n_subsamples, (int, np.integer)) or n_subsamples < 1:
        raise ValueError(f"n_subsamples: expected a positive int, got {n_subsamples!r}")
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"fraction: expected a number in (0, 1), got {fraction!r}")
    m = int(np.floor(fraction * n))
    if m < 3:
        raise ValueError(f"fraction: subsamples of {m} of {n} samples are too small; increase fraction")
    if top_k is None:
        if not 0.0 <= float(threshold) <= 1.0:
            raise ValueError(f"threshold: expected a number in [0, 1], got {threshold!r}")
        kx = ky = None
    else:
        kx, ky = (top_k, top_k) if np.isscalar(top_k) else tuple(top_k)
        for v in (kx, ky):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"top_k: expected a positive int or a pair of them, got {top_k!r}")
    seed = base_seed(random_state)
    config = {"kind": "stability_selection", "estimator": _estimator_config(estimator), "B": int(n_subsamples),
              "m": m, "threshold": float(threshold), "top_k": repr(top_k), "prior": _describe_prior(prior), "seed": seed}
    store = _store(results_path, resume, random_state, config, Xa, Yl)
    tasks = []
    for b in range(int(n_subsamples)):
        rows = np.sort(np.random.default_rng(derive_seed(seed, "subsample", b)).choice(n, size=m, replace=False))
        tasks.append((f"sub/{b}", dict(estimator=estimator, X=Xa, Ys=Yl, rows=rows, prior=prior,
                                       seed=derive_seed(seed, "fit", b), threshold=float(threshold),
                                       top_k_x=kx, top_k_y=ky)))
    res = run_tasks(_subsample_task, tasks, n_jobs=n_jobs, store=store, progress=progress, description="subsamples")
    B = int(n_subsamples)
    xs = np.mean([np.asarray(res[f"sub/{b}"]["x"], dtype=np.float64) for b in range(B)], axis=0)
    xt = np.mean([np.asarray(res[f"sub/{b}"]["x_task"], dtype=np.float64) for b in range(B)], axis=0)
    ys = [np.mean([np.asarray(res[f"sub/{b}"]["y"][k], dtype=np.float64) for b in range(B)], axis=0)
          for k in range(len(Yl))]
    return StabilityResult(x_frequency=xs, x_task_frequency=xt, y_frequency=ys, n_subsamples=B,
                           x_names=_names(X, Xa.shape[1], "x"),
                           y_names=[_names(Y, Ya.shape[1], f"y{k + 1}_") for k, (Y, Ya) in enumerate(zip(Ys, Yl))])
