"""Permutation test of the canonical correlation of each task (spec §11, issue 4).

Null hypothesis: no association between the SNPs and the imaging data. Under it,
the rows of the imaging side can be permuted without changing the distribution of
the data. Each permutation shuffles the rows of all imaging modalities together
(one permutation for all K, so the relations between modalities are kept), refits
the model from scratch (prior networks and standardisation included) and records
the statistic of each task. The p-value of task k is

    p_k = (1 + #{b : T_k^(b) >= T_k^obs}) / (B + 1),

which is exactly valid (never anti-conservative) for any B, because the observed
data are one of B + 1 exchangeable arrangements.

Statistics:

* ``"heldout"`` (default): mean over the folds of a k-fold CV of the test
  canonical correlation (weights fitted on the training folds). The same folds are
  used for the observed and every permuted data set.
* ``"insample"``: canonical correlation of a fit on all samples (what the model
  maximises; optimistic, but still a valid test since permuted fits are optimised
  in the same way).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ._parallel import base_seed, derive_seed, run_tasks
from .cv import (
    Prior,
    _check_n_jobs,
    _describe_cv,
    _describe_prior,
    _estimator_config,
    _store,
    as_arrays,
    fit_evaluate,
    make_folds,
)

__all__ = ["permutation_test", "permutation_statistic"]


def permutation_statistic(
    estimator: Any,
    X: np.ndarray,
    Ys: Sequence[np.ndarray],
    permutation: np.ndarray | None,
    statistic: str,
    folds: list | None,
    prior: Prior,
    seed: int,
) -> np.ndarray:
    """Statistic of every task for one arrangement of the imaging rows.

    Parameters
    ----------
    permutation : ndarray (n,) of int or None
        Row order applied to every imaging modality (None: observed data).

    Returns
    -------
    ndarray (K,)
    """
    Yp = list(Ys) if permutation is None else [Y[permutation] for Y in Ys]
    if statistic == "insample":
        r = fit_evaluate(estimator, X, Yp, np.arange(X.shape[0]), None, {}, prior, seed)
        return np.asarray(r["train_ccc"])
    vals = [fit_evaluate(estimator, X, Yp, tr, te, {}, prior, derive_seed(seed, f))["test_ccc"]
            for f, (tr, te) in enumerate(folds)]
    return np.mean(vals, axis=0)


def permutation_test(
    estimator: Any,
    X: Any,
    Ys: Sequence[Any],
    n_permutations: int = 1000,
    *,
    statistic: str = "heldout",
    cv: Any = 5,
    prior: Prior = "correlation",
    random_state: Any = None,
    n_jobs: int | None = 1,
    results_path: Any = None,
    resume: bool = False,
    progress: bool = False,
) -> pd.DataFrame:
    """P-value of each task's canonical correlation against row permutations.

    Parameters
    ----------
    estimator : CCA-family estimator (cloned and refitted for every permutation)
    X : array-like (n, p)
    Ys : list of K array-likes (n, q_k)
    n_permutations : int, default 1000
        B; the smallest attainable p-value is 1 / (B + 1).
    statistic : {"heldout", "insample"}
        See the module docstring.
    cv : int, splitter or (train, test) pairs, default 5
        Folds of the held-out statistic (ignored for ``"insample"``).
    prior : "correlation", None or callable
        Prior networks per fit, from that fit's training rows.
    random_state : int, optional
        Seeds the permutations, the folds and fits of estimators without a seed.
    n_jobs, results_path, resume, progress
        As in :func:`imaging_genetics.inference.nested_cv`; every permutation is
        one task.

    Returns
    -------
    DataFrame, one row per task: ``task``, ``statistic`` (observed value),
    ``p_value``, ``null_mean``, ``null_sd``, ``n_permutations``. The null
    distribution is in ``.attrs["null"]`` as nested lists; ``np.asarray(
    table.attrs["null"])`` gives the (B, K) array.

    Examples
    --------
    >>> permutation_test(MTS2CCA(), X, Ys, n_permutations=99, random_state=0)  # doctest: +SKIP
    """
    Xa, Yl = as_arrays(X, Ys)
    _check_n_jobs(n_jobs)
    if statistic not in ("heldout", "insample"):
        raise ValueError(f"statistic: expected 'heldout' or 'insample', got {statistic!r}")
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, (int, np.integer)) or n_permutations < 1:
        raise ValueError(f"n_permutations: expected a positive int, got {n_permutations!r}")
    B = int(n_permutations)
    n = Xa.shape[0]
    seed = base_seed(random_state)
    folds = make_folds(cv, n, derive_seed(seed, "folds")) if statistic == "heldout" else None
    config = {"kind": "permutation_test", "estimator": _estimator_config(estimator), "B": B, "statistic": statistic,
              "cv": _describe_cv(cv) if statistic == "heldout" else None, "prior": _describe_prior(prior), "seed": seed}
    store = _store(results_path, resume, random_state, config, Xa, Yl)
    fit_seed = derive_seed(seed, "fit")  # the same fit seeds for observed and permuted data

    def task(b: int | None) -> dict:
        perm = None if b is None else np.random.default_rng(derive_seed(seed, "perm", b)).permutation(n)
        return dict(estimator=estimator, X=Xa, Ys=Yl, permutation=perm, statistic=statistic, folds=folds,
                    prior=prior, seed=fit_seed)

    tasks = [("observed", task(None))] + [(f"perm/{b}", task(b)) for b in range(B)]
    res = run_tasks(permutation_statistic, tasks, n_jobs=n_jobs, store=store, progress=progress,
                    description="permutations")
    obs = np.asarray(res["observed"], dtype=np.float64)
    null = np.vstack([np.asarray(res[f"perm/{b}"], dtype=np.float64) for b in range(B)])
    count = (null >= obs[None, :]).sum(axis=0)
    table = pd.DataFrame({
        "task": np.arange(len(Yl)), "statistic": obs, "p_value": (count + 1.0) / (B + 1.0),
        "null_mean": null.mean(axis=0), "null_sd": null.std(axis=0, ddof=1) if B > 1 else np.zeros(len(Yl)),
        "n_permutations": B,
    })
    # Plain lists, not arrays, so that pandas can compare attrs (e.g. in pd.concat).
    table.attrs["null"] = null.tolist()
    table.attrs["statistic_kind"] = statistic
    return table
