"""Cross-validation and nested cross-validation for the CCA family (spec §11.1).

* :func:`cross_validate_cca` — k-fold CV with fixed parameters: train and test
  canonical correlation per fold and task, fit time and peak memory.
* :func:`nested_cv` — the paper's protocol: outer k folds give the reported train /
  test CCCs; inside every outer training set an inner k-fold grid search chooses the
  parameters by the mean held-out canonical correlation.

No leakage. Every fit sees only the training part of its split: the estimator
standardises with training statistics inside ``fit``, and the prior networks
(``prior="correlation"``: ``A = corr²`` with zero diagonal, spec decision 7) are
built here from the training rows of each split and passed as ``x_adjacency`` /
``y_adjacency``. Test rows are only ever passed to ``transform``.

Parallelism. Folds and grid points are independent joblib tasks (see
:mod:`._parallel`): ``n_jobs`` for local processes, ``joblib.parallel_config(
backend="dask")`` for a cluster. Results do not depend on ``n_jobs`` or the
backend. ``results_path`` + ``resume=True`` restarts an interrupted run without
redoing finished tasks.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .._validation import check_row_labels, matrix_list
from ._parallel import ResultStore, base_seed, derive_seed, fingerprint, run_tasks
from .metrics import align_signs, canonical_correlations, first_component, timed_fit

__all__ = ["cross_validate_cca", "nested_cv", "NestedCVResult", "make_folds"]

Prior = str | Callable[..., Mapping[str, Any]] | None


# --------------------------------------------------------------------------- inputs
def as_arrays(X: Any, Ys: Any) -> tuple[np.ndarray, list[np.ndarray]]:
    """(X (n, p), list of K (n, q_k)) as float64 arrays, with sample counts checked."""
    def conv(a, name):
        arr = np.asarray(a.to_numpy() if hasattr(a, "to_numpy") else a, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D matrix (n_samples, n_features), got shape {arr.shape}")
        return arr

    if isinstance(Ys, np.ndarray) and Ys.ndim == 3:
        Ys = [Ys[:, :, k] for k in range(Ys.shape[2])]
    Ys = matrix_list(Ys, "Ys")
    check_row_labels([X, *Ys], ["X"] + [f"Ys[{k}]" for k in range(len(Ys))])
    Xa = conv(X, "X")
    Yl = [conv(Y, f"Ys[{k}]") for k, Y in enumerate(Ys)]
    if not Yl:
        raise ValueError("Ys: needs at least one imaging modality (K >= 1)")
    for k, Y in enumerate(Yl):
        if Y.shape[0] != Xa.shape[0]:
            raise ValueError(f"Ys[{k}]: has {Y.shape[0]} samples, X has {Xa.shape[0]}")
    return Xa, Yl


def make_folds(cv: Any, n_samples: int, seed: int, name: str = "cv") -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test index pairs.

    ``cv`` is an int k (shuffled :class:`~sklearn.model_selection.KFold` seeded by
    ``seed``), an sklearn splitter (its ``split`` is called on ``n_samples`` rows) or
    an explicit sequence of ``(train, test)`` index arrays or boolean masks of
    length ``n_samples``. Explicit folds must hold integer indices in
    ``[0, n_samples)`` (no negative ones), and the training and test rows of a fold
    must be disjoint. ``name`` is the argument named in error messages.
    """
    from sklearn.model_selection import KFold

    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"{name}: needs at least 2 folds, got {cv}")
        if cv > n_samples:
            raise ValueError(f"{name}: {cv} folds for {n_samples} samples; use at most {n_samples}")
        splitter = KFold(n_splits=int(cv), shuffle=True, random_state=seed)
        folds = list(splitter.split(np.zeros((n_samples, 1))))
    elif hasattr(cv, "split"):
        try:
            folds = list(cv.split(np.zeros((n_samples, 1))))
        except TypeError as exc:  # e.g. a stratified splitter, which needs labels
            raise TypeError(f"{name}: {type(cv).__name__}.split needs more than the number of rows "
                            f"({exc}); pass its folds as (train, test) index pairs instead") from None
    else:
        try:
            folds = [(tr, te) for tr, te in cv]
        except (TypeError, ValueError):
            raise TypeError(f"{name}: expected an int, an sklearn splitter or (train, test) pairs, "
                            f"got {type(cv).__name__}") from None
    out = []
    for f, (tr, te) in enumerate(folds):
        tr = _fold_rows(tr, n_samples, f"{name}: fold {f} training rows")
        te = _fold_rows(te, n_samples, f"{name}: fold {f} test rows")
        if tr.size < 2 or te.size < 2:
            raise ValueError(f"{name}: fold {f} has {tr.size} training and {te.size} test samples; each needs >= 2")
        shared = np.intersect1d(tr, te)
        if shared.size:
            raise ValueError(f"{name}: fold {f} has {shared.size} row(s) in both its training and its test "
                             f"part (first: {int(shared[0])})")
        out.append((tr, te))
    return out


def _fold_rows(rows: Any, n_samples: int, what: str) -> np.ndarray:
    """Row indices of one part of a fold: integer indices in [0, n_samples), or a
    boolean mask of length n_samples."""
    a = np.asarray(rows)
    if a.ndim != 1:
        raise ValueError(f"{what}: expected a 1-D array of row indices, got shape {a.shape}")
    if a.dtype == bool:
        if a.size != n_samples:
            raise ValueError(f"{what}: a boolean mask needs {n_samples} entries (one per sample), got {a.size}")
        return np.flatnonzero(a)
    if a.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{what}: row indices must be integers (or a boolean mask), got dtype {a.dtype}")
    a = a.astype(np.int64)
    lo, hi = int(a.min()), int(a.max())
    if lo < 0 or hi >= n_samples:
        raise ValueError(f"{what}: row index {lo if lo < 0 else hi} is outside 0..{n_samples - 1}")
    return a


def _describe_cv(cv: Any) -> Any:
    if isinstance(cv, (int, np.integer)):
        return int(cv)
    if hasattr(cv, "split"):
        return repr(cv)
    return [[np.asarray(tr).tolist(), np.asarray(te).tolist()] for tr, te in cv]


def _describe_prior(prior: Prior) -> str:
    if prior is None or isinstance(prior, str):
        return str(prior)
    return f"{getattr(prior, '__module__', '')}.{getattr(prior, '__qualname__', repr(prior))}"


def _check_param_names(estimator: Any, names: Any, argument: str) -> None:
    valid = estimator.get_params()
    unknown = sorted(set(names) - set(valid))
    if unknown:
        raise ValueError(f"{argument}: {type(estimator).__name__} has no parameter(s) {unknown}; "
                         f"it has {sorted(valid)}")


def _param_list(param_grid: Any) -> list[dict]:
    from sklearn.model_selection import ParameterGrid

    if param_grid is None:
        return [{}]
    if isinstance(param_grid, Mapping) and not param_grid:
        return [{}]
    try:
        grid = list(ParameterGrid(param_grid))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"param_grid: {exc}") from None
    if not grid:
        raise ValueError(f"param_grid: no grid points in {param_grid!r} (an empty list, or a parameter "
                         "with no values); pass None to fit the estimator as it is")
    return [dict(sorted(g.items())) for g in grid]


# --------------------------------------------------------------------------- one fit
#: The fit arguments that carry prior information (networks, SNP groups).
_PRIOR_ARGUMENTS = ("x_adjacency", "y_adjacency", "snp_groups")


def _fit_accepts(estimator: Any) -> set[str]:
    try:
        sig = inspect.signature(estimator.fit)
    except (TypeError, ValueError):
        return set()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
        return set(_PRIOR_ARGUMENTS)
    return set(sig.parameters)


def prior_fit_params(estimator: Any, X_train: np.ndarray, Ys_train: Sequence[np.ndarray], prior: Prior) -> dict:
    """Fit keyword arguments with prior networks built from training rows only.

    ``prior="correlation"``: ``x_adjacency = corr²(X_train)`` and ``y_adjacency =
    [corr²(Y_k,train)]`` (zero diagonal), passed when ``estimator.fit`` accepts them
    and the model uses a graph on that side (models declare this with the class
    attributes ``_uses_x_graph`` / ``_uses_y_graph``; a model without them gets both
    when ``fit`` accepts them). A model with a SNP-group penalty derives its groups
    from ``x_adjacency`` when given, so it gets no correlation graph for X (its own
    default, computed inside ``fit`` from the same training rows, applies).
    ``prior=None``: nothing is passed. A callable ``prior(X_train, Ys_train) ->
    dict`` returns the keyword arguments itself; of these, a graph the model has no
    term for (its ``_unused_priors``) is left out.
    """
    if prior is None:
        return {}
    if callable(prior):
        kw = prior(X_train, list(Ys_train))
        if not isinstance(kw, Mapping):
            raise TypeError(f"prior: the callable must return a dict of fit arguments, got {type(kw).__name__}")
        kw = dict(kw)
        # one prior callable serves every model of a comparison: a graph a model has
        # no term for is left out rather than passed and ignored (with a warning) in
        # every fit
        unused = getattr(estimator, "_unused_priors", None)
        if unused is not None:
            for name in unused(**{k: v for k, v in kw.items() if k in _PRIOR_ARGUMENTS}):
                del kw[name]
        return kw
    if prior != "correlation":
        raise ValueError(f"prior: expected 'correlation', None or a callable, got {prior!r}")
    from ..networks import correlation_graph

    accepted = _fit_accepts(estimator)
    kw: dict[str, Any] = {}
    uses_x = getattr(estimator, "_uses_x_graph", True) and not getattr(estimator, "_uses_groups", False)
    uses_y = getattr(estimator, "_uses_y_graph", True)
    if "x_adjacency" in accepted and uses_x:
        kw["x_adjacency"] = correlation_graph(X_train)
    if "y_adjacency" in accepted and uses_y:
        kw["y_adjacency"] = [correlation_graph(Y) for Y in Ys_train]
    return kw


def _seed_estimator(estimator: Any, seed: int) -> None:
    """Give an estimator whose ``random_state`` is None a task-specific seed."""
    params = estimator.get_params(deep=False)
    if "random_state" in params and params["random_state"] is None:
        estimator.set_params(random_state=seed)


def fit_evaluate(
    estimator: Any,
    X: np.ndarray,
    Ys: Sequence[np.ndarray],
    train: np.ndarray,
    test: np.ndarray | None,
    params: Mapping[str, Any],
    prior: Prior,
    seed: int,
    measure: bool = False,
    weights: bool = False,
) -> dict:
    """Clone, set ``params``, fit on ``train`` rows and score train and test rows.

    Returns
    -------
    dict with ``train_ccc`` (K,), ``test_ccc`` (K,) (NaN when ``test`` is None),
    and, as requested, ``fit_time_s``, ``peak_memory_mb``, ``fit_memory_mb``,
    ``x_weights`` (p, Kx) and ``y_weights`` (list of K (q_k,)).
    """
    import warnings

    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    est = clone(estimator)
    if params:
        est.set_params(**params)
    _seed_estimator(est, seed)
    Xtr = X[train]
    Ytr = [Y[train] for Y in Ys]
    kw = prior_fit_params(est, Xtr, Ytr, prior)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if measure:
            rec = timed_fit(est, Xtr, Ytr, **kw)
        else:
            est.fit(Xtr, Ytr, **kw)
    out: dict[str, Any] = {"train_ccc": canonical_correlations(est, Xtr, Ytr)}
    if test is not None:
        out["test_ccc"] = canonical_correlations(est, X[test], [Y[test] for Y in Ys])
    else:
        out["test_ccc"] = np.full(len(Ys), np.nan)
    if measure:
        out["fit_time_s"] = rec.fit_time_s
        out["peak_memory_mb"] = rec.peak_memory_mb
        out["fit_memory_mb"] = rec.fit_memory_mb
    if weights:
        W, Vs = first_component(est)
        out["x_weights"] = W
        out["y_weights"] = Vs
    return out


def _store(results_path, resume, random_state, config, X, Ys) -> ResultStore | None:
    if results_path is None:
        if resume:
            raise ValueError("resume: needs a results_path to resume from")
        return None
    if resume and random_state is None:
        raise ValueError("random_state: resuming needs a fixed integer seed (random_state=None draws new folds)")
    return ResultStore(results_path, fingerprint(config, [X, *Ys]), resume=resume)


def _estimator_config(estimator: Any) -> dict:
    return {"class": f"{type(estimator).__module__}.{type(estimator).__qualname__}",
            "params": {k: repr(v) for k, v in sorted(estimator.get_params(deep=False).items())}}


def _check_n_jobs(n_jobs: Any) -> Any:
    if n_jobs is not None and (not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0):
        raise ValueError(f"n_jobs: expected a nonzero int or None, got {n_jobs!r}")
    return n_jobs


# --------------------------------------------------------------------------- plain CV
def cross_validate_cca(
    estimator: Any,
    X: Any,
    Ys: Sequence[Any],
    cv: Any = 5,
    *,
    params: Mapping[str, Any] | None = None,
    prior: Prior = "correlation",
    random_state: Any = None,
    n_jobs: int | None = 1,
    return_weights: bool = False,
    results_path: Any = None,
    resume: bool = False,
    progress: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, dict]:
    """k-fold cross-validation of a CCA-family estimator with fixed parameters.

    Parameters
    ----------
    estimator : CCA-family estimator (unfitted; it is cloned for every fold)
    X : array-like (n, p)
    Ys : list of K array-likes (n, q_k)
    cv : int, sklearn splitter or sequence of (train, test), default 5
    params : dict, optional
        Parameters set on the clone before fitting.
    prior : "correlation", None or callable
        Prior networks from each training part; see :func:`prior_fit_params`.
    random_state : int, optional
        Seeds the folds and, for estimators whose ``random_state`` is None, each fit.
    n_jobs : int, optional
    return_weights : bool
        Also return the sign-aligned weights of every fold.
    results_path, resume, progress : see :func:`nested_cv`.

    Returns
    -------
    table : DataFrame
        One row per (fold, task): ``fold``, ``task``, ``train_ccc``, ``test_ccc``,
        ``fit_time_s``, ``peak_memory_mb``, ``fit_memory_mb``, ``n_train``,
        ``n_test``.
    weights : dict, only with ``return_weights=True``
        ``{"x": ndarray (F, p, Kx), "y": list of K ndarrays (F, q_k)}``, sign-aligned.
    """
    Xa, Yl = as_arrays(X, Ys)
    _check_n_jobs(n_jobs)
    seed = base_seed(random_state)
    folds = make_folds(cv, Xa.shape[0], derive_seed(seed, "folds"))
    params = dict(params or {})
    _check_param_names(estimator, params, "params")
    config = {"kind": "cross_validate_cca", "estimator": _estimator_config(estimator), "params": repr(sorted(params.items())),
              "cv": _describe_cv(cv), "prior": _describe_prior(prior), "seed": seed, "weights": return_weights}
    store = _store(results_path, resume, random_state, config, Xa, Yl)
    tasks = [(f"fold/{f}", dict(estimator=estimator, X=Xa, Ys=Yl, train=tr, test=te, params=params, prior=prior,
                                seed=derive_seed(seed, "fit", f), measure=True, weights=return_weights))
             for f, (tr, te) in enumerate(folds)]
    res = run_tasks(fit_evaluate, tasks, n_jobs=n_jobs, store=store, progress=progress, description="CV folds")
    rows = []
    for f, (tr, te) in enumerate(folds):
        r = res[f"fold/{f}"]
        for k in range(len(Yl)):
            rows.append({"fold": f, "task": k, "train_ccc": float(r["train_ccc"][k]), "test_ccc": float(r["test_ccc"][k]),
                         "fit_time_s": r["fit_time_s"], "peak_memory_mb": r["peak_memory_mb"],
                         "fit_memory_mb": r["fit_memory_mb"], "n_train": int(tr.size), "n_test": int(te.size)})
    table = pd.DataFrame(rows)
    if return_weights:
        U = np.stack([res[f"fold/{f}"]["x_weights"] for f in range(len(folds))])
        V = [np.stack([res[f"fold/{f}"]["y_weights"][k] for f in range(len(folds))]) for k in range(len(Yl))]
        U, V = align_signs(U, V)
        return table, {"x": U, "y": V}
    return table


# --------------------------------------------------------------------------- nested CV
@dataclass
class NestedCVResult:
    """Result of :func:`nested_cv`.

    Attributes
    ----------
    table : DataFrame
        One row per (outer fold, task): ``fold``, ``task``, ``train_ccc``,
        ``test_ccc`` (canonical correlation of the outer training / test rows with
        weights fitted on the outer training rows), ``inner_score`` (mean held-out
        correlation of the chosen grid point in the inner CV), one ``param_<name>``
        column per tuned parameter (the chosen value), ``fit_time_s``,
        ``peak_memory_mb``, ``fit_memory_mb`` (of the outer refit; see
        :mod:`.metrics`), ``n_train``, ``n_test``.
    inner_table : DataFrame
        One row per (outer fold, grid point, inner fold): ``fold``, ``grid_index``,
        ``inner_fold``, ``score`` (mean over tasks of the held-out correlation),
        ``param_<name>`` columns.
    x_weights : ndarray (F, p, Kx)
        SNP weights of the F outer refits, sign-aligned across folds.
    y_weights : list of K ndarrays (F, q_k)
        Imaging weights, flipped together with the SNP weights.
    best_params : list of F dicts
    folds : list of F (train, test) index arrays
    best_index : list of F ints
        Position in the parameter grid of each fold's chosen point (the
        ``grid_index`` of ``inner_table``).
    """

    table: pd.DataFrame
    inner_table: pd.DataFrame
    x_weights: np.ndarray
    y_weights: list
    best_params: list
    folds: list = field(repr=False)
    best_index: list = field(default_factory=list)

    @property
    def weights(self) -> dict:
        """``{"x": x_weights (F, p, Kx), "y": y_weights list of K (F, q_k)}``."""
        return {"x": self.x_weights, "y": self.y_weights}

    def summary(self) -> pd.DataFrame:
        """Mean and SD over outer folds per task (the paper's Table 1 layout).

        Columns: ``task``, ``train_ccc_mean``, ``train_ccc_sd``, ``test_ccc_mean``,
        ``test_ccc_sd``, ``fit_time_s_mean``, ``peak_memory_mb_mean``. SD uses ddof=1.
        """
        g = self.table.groupby("task", sort=True)
        out = pd.DataFrame({
            "train_ccc_mean": g["train_ccc"].mean(), "train_ccc_sd": g["train_ccc"].std(ddof=1),
            "test_ccc_mean": g["test_ccc"].mean(), "test_ccc_sd": g["test_ccc"].std(ddof=1),
            "fit_time_s_mean": g["fit_time_s"].mean(), "peak_memory_mb_mean": g["peak_memory_mb"].mean(),
        })
        return out.reset_index()

    def mean_weights(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """Fold-averaged sign-aligned weights: ((p, Kx), list of K (q_k,))."""
        return self.x_weights.mean(axis=0), [v.mean(axis=0) for v in self.y_weights]

    def save(self, path: Any) -> Any:
        """Write everything to one ``.npz`` bundle (:func:`imaging_genetics.base.save_bundle`)."""
        from ..base import save_bundle

        return save_bundle(path, {
            "table": self.table, "inner_table": self.inner_table, "x_weights": self.x_weights,
            "y_weights": list(self.y_weights),
            "best_params": [{k: v for k, v in p.items()} for p in self.best_params],
            "best_index": list(self.best_index),
            "folds": [(tr, te) for tr, te in self.folds],
        })


def nested_cv(
    estimator: Any,
    X: Any,
    Ys: Sequence[Any],
    param_grid: Any,
    outer_cv: Any = 5,
    inner_cv: Any = 5,
    *,
    prior: Prior = "correlation",
    random_state: Any = None,
    n_jobs: int | None = 1,
    results_path: Any = None,
    resume: bool = False,
    progress: bool = False,
) -> NestedCVResult:
    """Nested cross-validation: outer folds for evaluation, inner grid search for tuning.

    For every outer fold, each grid point is scored by inner k-fold CV on the outer
    training rows (score = mean over inner folds of the mean over tasks of the
    held-out canonical correlation; ties go to the first grid point); the chosen
    parameters are refitted on all outer training rows and evaluated on the outer
    test rows. Prior networks and standardisation come from the training rows of
    each split only.

    Parameters
    ----------
    estimator : CCA-family estimator following the package contract
        ``fit(X, Ys, **kw)``, ``transform``, ``x_weights_``, ``y_weights_``.
    X : array-like (n, p)
    Ys : list of K array-likes (n, q_k)
    param_grid : dict of lists, list of such dicts, or None
        As for sklearn ``ParameterGrid``, e.g. ``{"sparsity_x": [0.01, 0.1, 1]}``.
    outer_cv, inner_cv : int, sklearn splitter or explicit (train, test) pairs
        Ints give shuffled K-folds seeded from ``random_state``; explicit inner
        pairs index into the outer training rows.
    prior : "correlation" (default), None or callable
        See :func:`prior_fit_params`.
    random_state : int, optional
        Seeds folds and fits; the same int gives bit-identical results for any
        ``n_jobs`` and backend.
    n_jobs : int, optional
        Parallel joblib workers for the folds and grid points.
    results_path : path, optional
        JSON-lines store of finished tasks (see :mod:`._parallel`).
    resume : bool
        Reuse finished tasks from ``results_path`` (same data and configuration).
    progress : bool
        Show a rich progress bar.

    Returns
    -------
    NestedCVResult
        ``.table`` (tidy, per outer fold and task), ``.inner_table``,
        ``.x_weights`` (F, p, Kx) / ``.y_weights`` (K × (F, q_k)) sign-aligned,
        ``.summary()`` mean and SD per task, ``.best_params``, ``.save(path)``.

    Examples
    --------
    >>> res = nested_cv(MTS2CCA(), X, Ys, {"sparsity_x": [0.1, 1]}, random_state=0)  # doctest: +SKIP
    >>> res.summary()  # doctest: +SKIP
    """
    Xa, Yl = as_arrays(X, Ys)
    _check_n_jobs(n_jobs)
    grid = _param_list(param_grid)
    _check_param_names(estimator, {k for g in grid for k in g}, "param_grid")
    seed = base_seed(random_state)
    outer = make_folds(outer_cv, Xa.shape[0], derive_seed(seed, "outer"), "outer_cv")
    # one grid point: nothing to tune, so no inner folds are needed (or checked)
    inner = [make_folds(inner_cv, tr.size, derive_seed(seed, "inner", o), "inner_cv") if len(grid) > 1 else []
             for o, (tr, _) in enumerate(outer)]
    config = {"kind": "nested_cv", "estimator": _estimator_config(estimator), "grid": repr(grid),
              "outer": _describe_cv(outer_cv), "inner": _describe_cv(inner_cv), "prior": _describe_prior(prior),
              "seed": seed}
    store = _store(results_path, resume, random_state, config, Xa, Yl)
    K = len(Yl)

    # Stage 1: every (outer fold, grid point, inner fold) at once.
    tasks = []
    if len(grid) > 1:
        for o, (otr, _) in enumerate(outer):
            for g, params in enumerate(grid):
                for i, (itr, ite) in enumerate(inner[o]):
                    tasks.append((f"inner/{o}/{g}/{i}", dict(
                        estimator=estimator, X=Xa, Ys=Yl, train=otr[itr], test=otr[ite], params=params,
                        prior=prior, seed=derive_seed(seed, "fit", o, i))))
    res = run_tasks(fit_evaluate, tasks, n_jobs=n_jobs, store=store, progress=progress,
                    description="inner grid search") if tasks else {}
    inner_rows = []
    best, best_score, best_index = [], [], []
    for o in range(len(outer)):
        scores = []
        for g, params in enumerate(grid):
            vals = []
            for i in range(len(inner[o])):
                key = f"inner/{o}/{g}/{i}"
                if key not in res:
                    continue
                s = float(np.mean(res[key]["test_ccc"]))
                vals.append(s)
                inner_rows.append({"fold": o, "grid_index": g, "inner_fold": i, "score": s,
                                   **{f"param_{k}": v for k, v in params.items()}})
            scores.append(float(np.mean(vals)) if vals else np.nan)
        gi = 0 if len(grid) == 1 else int(np.nanargmax(np.where(np.isnan(scores), -np.inf, scores)))
        best.append(grid[gi])
        best_score.append(scores[gi])
        best_index.append(gi)

    # Stage 2: refit the chosen parameters on every outer training set.
    tasks = [(f"outer/{o}", dict(estimator=estimator, X=Xa, Ys=Yl, train=tr, test=te, params=best[o], prior=prior,
                                 seed=derive_seed(seed, "fit", o), measure=True, weights=True))
             for o, (tr, te) in enumerate(outer)]
    res = run_tasks(fit_evaluate, tasks, n_jobs=n_jobs, store=store, progress=progress, description="outer folds")
    rows = []
    for o, (tr, te) in enumerate(outer):
        r = res[f"outer/{o}"]
        for k in range(K):
            rows.append({"fold": o, "task": k, "train_ccc": float(r["train_ccc"][k]), "test_ccc": float(r["test_ccc"][k]),
                         "inner_score": best_score[o], **{f"param_{p}": v for p, v in best[o].items()},
                         "fit_time_s": r["fit_time_s"], "peak_memory_mb": r["peak_memory_mb"],
                         "fit_memory_mb": r["fit_memory_mb"], "n_train": int(tr.size), "n_test": int(te.size)})
    U = np.stack([res[f"outer/{o}"]["x_weights"] for o in range(len(outer))])
    V = [np.stack([res[f"outer/{o}"]["y_weights"][k] for o in range(len(outer))]) for k in range(K)]
    U, V = align_signs(U, V)
    names = dict.fromkeys(k for g in grid for k in g)  # a list of grids may name different parameters
    inner_cols = ["fold", "grid_index", "inner_fold", "score"] + [f"param_{k}" for k in names]
    return NestedCVResult(table=pd.DataFrame(rows), inner_table=pd.DataFrame(inner_rows, columns=inner_cols),
                          x_weights=U, y_weights=V, best_params=best, folds=outer, best_index=best_index)
