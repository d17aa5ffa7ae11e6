"""Parameter sensitivity (the paper's sensitivity figure, spec §11.1).

One parameter is varied over a log grid (the paper: 0.01, 0.1, 1, 10, 100) with the
other parameters fixed (the paper fixes them at 1; pass ``fixed=``), and the
cross-validated train and test canonical correlation of every task is recorded.
All values use the same folds, so differences between values are not fold noise.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

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

__all__ = ["sensitivity"]


def sensitivity(
    estimator: Any,
    X: Any,
    Ys: Sequence[Any],
    parameter: str | Sequence[str],
    values: Sequence[float] = tuple(np.logspace(-2, 2, 5)),
    *,
    fixed: Mapping[str, Any] | None = None,
    cv: Any = 5,
    prior: Prior = "correlation",
    random_state: Any = None,
    n_jobs: int | None = 1,
    results_path: Any = None,
    resume: bool = False,
    progress: bool = False,
) -> pd.DataFrame:
    """Cross-validated canonical correlation as one parameter varies.

    Parameters
    ----------
    estimator : CCA-family estimator
    X : array-like (n, p)
    Ys : list of K array-likes (n, q_k)
    parameter : str or list of str
        Name(s) of the parameter(s) to vary, e.g. ``"sparsity_x"``; a list gives one
        curve per parameter (each varied alone, the others at ``fixed``).
    values : sequence of float, default 0.01, 0.1, 1, 10, 100
    fixed : dict, optional
        Values of the other parameters (e.g. all penalties at 1 as in the paper);
        default: the estimator's own values.
    cv : int, splitter or (train, test) pairs, default 5
    prior, random_state, n_jobs, results_path, resume, progress
        As in :func:`imaging_genetics.inference.nested_cv`.

    Returns
    -------
    DataFrame, one row per (parameter, value, fold, task): ``parameter``, ``value``,
    ``fold``, ``task``, ``train_ccc``, ``test_ccc``. Plot with
    :func:`imaging_genetics.report.sensitivity_curves`; aggregate with
    ``groupby(["parameter", "value", "task"])``.

    Raises
    ------
    ValueError
        ``parameter`` is not a parameter of the estimator, or ``values`` is empty.
    """
    Xa, Yl = as_arrays(X, Ys)
    _check_n_jobs(n_jobs)
    names = [parameter] if isinstance(parameter, str) else list(parameter)
    valid = estimator.get_params(deep=False)
    for name in names:
        if name not in valid:
            raise ValueError(f"parameter: {type(estimator).__name__} has no parameter {name!r}; "
                             f"it has {sorted(valid)}")
    fixed = dict(fixed or {})
    for name in fixed:
        if name not in valid:
            raise ValueError(f"fixed: {type(estimator).__name__} has no parameter {name!r}")
    vals = [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]
    if not vals:
        raise ValueError("values: needs at least one value")
    seed = base_seed(random_state)
    folds = make_folds(cv, Xa.shape[0], derive_seed(seed, "folds"))
    config = {"kind": "sensitivity", "estimator": _estimator_config(estimator), "parameters": names, "values": vals,
              "fixed": repr(sorted(fixed.items())), "cv": _describe_cv(cv), "prior": _describe_prior(prior), "seed": seed}
    store = _store(results_path, resume, random_state, config, Xa, Yl)
    tasks = []
    for name in names:
        for i, v in enumerate(vals):
            params = {**fixed, name: v}
            for f, (tr, te) in enumerate(folds):
                tasks.append((f"{name}/{i}/{f}", dict(estimator=estimator, X=Xa, Ys=Yl, train=tr, test=te,
                                                      params=params, prior=prior, seed=derive_seed(seed, "fit", f))))
    res = run_tasks(fit_evaluate, tasks, n_jobs=n_jobs, store=store, progress=progress, description="sensitivity")
    rows = []
    for name in names:
        for i, v in enumerate(vals):
            for f in range(len(folds)):
                r = res[f"{name}/{i}/{f}"]
                for k in range(len(Yl)):
                    rows.append({"parameter": name, "value": v, "fold": f, "task": k,
                                 "train_ccc": float(r["train_ccc"][k]), "test_ccc": float(r["test_ccc"][k])})
    return pd.DataFrame(rows)


# ``from imaging_genetics.inference import sensitivity`` finds this submodule (a
# submodule wins over the package's lazy exports when the names are equal), so the
# module itself is made callable and forwards to the function of the same name.
class _CallableModule(__import__("types").ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        return sensitivity(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
