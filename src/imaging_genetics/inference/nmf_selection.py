"""Model selection for the joint NMF family, as in the JCB-SNMF paper (spec §8).

* :func:`nmf_grid_search` — the paper's grid over (lambda, beta, gamma1, gamma2),
  each in {1e-4, 1e-3, 1e-2, 0.1, 1, 10} (6^4 = 1296 settings at K = 10), scored by
  reconstruction error. Settings are numbered like the authors' four nested loops
  (lambda outermost, gamma2 innermost, 1-based), so "group 866" means the same here.
* :func:`select_n_components` — the K-selection curves: reconstruction error,
  mean module overlap rate and ``corr2(X_I, W H_I)`` per modality for each K.
* :func:`restart_stability` — the restart loop at the chosen setting: how well the
  co-modules of independent random restarts reproduce those of the best one
  (the paper's Fig. 6).

Both run their fits in parallel through joblib. Caveat (spec §8): minimising
reconstruction error always favours the weakest penalties; the table also reports
the objective and whether the boundedness condition holds, so other criteria can
be applied to it.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone

from .._validation import check_matrices
from ._parallel import base_seed, derive_seed, fingerprint
from .modules import (
    extract_modules,
    mean_overlap_rate,
    module_reproducibility,
    module_thresholds,
    multi_membership_rate,
    reconstruction_correlation,
)

__all__ = ["PAPER_GRID", "nmf_grid_search", "best_setting", "select_n_components", "restart_stability"]

#: The JCB-SNMF paper's grid of every penalty weight.
PAPER_GRID = (1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0)

_ORDER = ("cross_strength", "smoothness", "basis_penalty", "sparsity")


def _default_estimator(n_components: int):
    from ..nmf import JCBSNMF

    return JCBSNMF(n_components=n_components, n_restarts=1, max_iter=200, tol=1e-5, random_state=0)


def _fit_kwargs(estimator, cross_adjacency, graphs) -> dict:
    kw = {}
    if getattr(estimator, "_uses_cross", False) and cross_adjacency is not None:
        kw["cross_adjacency"] = cross_adjacency
    if getattr(estimator, "_uses_graphs", False) and graphs is not None:
        kw["graphs"] = graphs
    return kw


_STORE_HEADER = "__grid_search__"


def _store_fingerprint(estimator, names, Xs, fit_kw) -> str:
    """Fingerprint of what a grid store's results depend on (data, priors, fixed settings)."""
    params = {k: v for k, v in estimator.get_params().items() if k not in names}
    arrays = list(Xs)
    cross = fit_kw.get("cross_adjacency") or {}
    for key in sorted(cross, key=repr):
        arrays.append(cross[key])
    for graph in fit_kw.get("graphs") or []:
        if graph is not None:
            arrays.append(graph)
    config = {"estimator": type(estimator).__name__, "params": params, "grid": names,
              "cross_keys": [repr(k) for k in sorted(cross, key=repr)]}
    return fingerprint(config, arrays)


def _score(model, Xs) -> dict:
    fit = model.objective_terms_["fit"]
    total = sum(float(np.einsum("ij,ij->", X, X)) for X in Xs)
    return {
        "reconstruction_error": float(fit),
        "relative_error": float(math.sqrt(fit / total)) if total > 0 else float("nan"),
        "objective": float(model.objective_[-1]),
        "n_iter": int(model.n_iter_),
    }


def _grid_task(estimator, params, Xs, fit_kw):
    from ..nmf import BoundednessWarning

    model = clone(estimator).set_params(**params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(Xs, **fit_kw)
            row = _score(model, Xs)
        except FloatingPointError:
            row = {"reconstruction_error": float("inf"), "relative_error": float("inf"),
                   "objective": float("-inf"), "n_iter": 0}
    row["bounded"] = not any(issubclass(w.category, BoundednessWarning) for w in caught)
    return row


def nmf_grid_search(
    Xs: Sequence[Any],
    *,
    cross_adjacency: Mapping | None = None,
    graphs: Sequence | None = None,
    estimator=None,
    param_grid: Mapping[str, Sequence[float]] | None = None,
    n_components: int = 10,
    n_jobs: int | None = None,
    store: str | Path | None = None,
    verbose: int = 0,
    batched: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Grid search over the penalty weights, scored by reconstruction error (paper §2.3).

    Parameters
    ----------
    Xs : list of M nonnegative arrays (n, p_I)
    cross_adjacency, graphs : priors passed to ``fit`` (see the models)
    estimator : JCBSNMF / JSNMNMF instance, optional
        Template (cloned per setting). Default ``JCBSNMF(n_components, n_restarts=1,
        max_iter=200, tol=1e-5, random_state=0)``.
    param_grid : dict name -> values, optional
        Values of ``cross_strength`` [lambda], ``smoothness`` [beta],
        ``basis_penalty`` [gamma1], ``sparsity`` [gamma2]; every parameter of the
        estimator among these four defaults to :data:`PAPER_GRID`.
    n_components : int, default=10
        K used by the default estimator (the paper: 10).
    n_jobs : int or None
        Settings fitted in parallel through joblib.
    store : path, optional
        JSON-lines file; each finished setting is appended as it completes and
        settings already in the file are not fitted again (resumable searches).
    batched : bool, default=True
        Fit the settings as stacks that share the data
        (:func:`imaging_genetics.nmf.fit_settings`): one large matrix product per
        step serves many settings. The numbers agree with one-at-a-time fits up to
        round-off of the stacked products; False fits each setting separately.
    progress : callable, optional
        Called as ``progress(done, total)`` after each setting is recorded (and
        written to ``store``).

    Returns
    -------
    DataFrame, one row per setting: ``group`` (1-based, nested-loop order with
    lambda outermost), the parameters, ``reconstruction_error`` (sum_I
    ||X_I - W H_I||_F^2), ``relative_error``, ``objective``, ``n_iter``,
    ``bounded`` (False when the spec §2.5 warning fired), ``rank`` (1 = smallest
    reconstruction error). ``df.attrs["best"]`` holds the parameters of the
    recommended setting (:func:`best_setting`: the lowest reconstruction error
    among the bounded settings), ``df.attrs["best_group"]`` its group and
    ``df.attrs["best_bounded"]`` whether it is bounded (False only when no
    setting is).
    """
    Xs = check_matrices(Xs, "Xs", nonnegative=True)
    estimator = _default_estimator(n_components) if estimator is None else estimator
    names = [p for p in _ORDER if p in estimator.get_params()]
    grid = {p: list(PAPER_GRID) for p in names}
    if param_grid:
        unknown = set(param_grid) - set(names)
        if unknown:
            raise ValueError(f"param_grid: {sorted(unknown)} are not penalties of {type(estimator).__name__}")
        for k, vals in param_grid.items():
            try:
                grid[k] = [float(v) for v in vals]
            except (TypeError, ValueError):
                raise ValueError(f"param_grid: {k!r} needs a list of numbers, got {vals!r}") from None
        empty = sorted(k for k in param_grid if not grid[k])
        if empty:
            raise ValueError(f"param_grid: no values for {empty}; give each parameter at least one value")
    settings = [dict(zip(names, combo)) for combo in itertools.product(*(grid[p] for p in names))]
    fit_kw = _fit_kwargs(estimator, cross_adjacency, graphs)

    done: dict[int, dict] = {}
    store_path = Path(store) if store is not None else None
    # Results are reusable only for the same data, priors and estimator; the store's
    # first line records their fingerprint so a stale store is refused, not reused.
    run_id = _store_fingerprint(estimator, names, Xs, fit_kw) if store_path is not None else None
    if store_path is not None and store_path.exists() and store_path.stat().st_size == 0:
        store_path.unlink()
    if store_path is not None and store_path.exists():
        raw = store_path.read_bytes()
        good = raw[: raw.rfind(b"\n") + 1]  # a killed run may leave a partial last line
        if len(good) < len(raw):
            with open(store_path, "r+b") as fh:
                fh.truncate(len(good))
        header_seen = False
        for line in good.decode("utf-8", errors="replace").splitlines():
            if line.strip():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not isinstance(rec, dict):
                    continue
                if _STORE_HEADER in rec:
                    if rec[_STORE_HEADER] != run_id:
                        raise ValueError(
                            f"store: {store_path} holds results of another grid search (different "
                            "data, priors or estimator settings); remove the file or pass a new path"
                        )
                    header_seen = True
                    continue
                if not header_seen:
                    raise ValueError(
                        f"store: {store_path} has no header line naming the search it belongs to; "
                        "remove the file or pass a new path"
                    )
                g = int(rec.get("group", 0))
                if 0 < g <= len(settings) and all(
                    math.isclose(float(rec.get(p, math.nan)), settings[g - 1][p]) for p in names
                ):
                    done[g] = rec
    todo = [g for g in range(1, len(settings) + 1) if g not in done]
    if store_path is not None and not store_path.exists():
        store_path.parent.mkdir(parents=True, exist_ok=True)
        with store_path.open("a") as fh:
            fh.write(json.dumps({_STORE_HEADER: run_id}) + "\n")

    def record(group, row):
        rec = {"group": group, **settings[group - 1], **row}
        done[group] = rec
        if store_path is not None:
            store_path.parent.mkdir(parents=True, exist_ok=True)
            with store_path.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")

    n_done = len(done)

    def finished(group, row):
        nonlocal n_done
        record(group, row)
        n_done += 1
        if progress is not None:
            progress(n_done, len(settings))

    from ..nmf._base import JointNMFBase, fit_settings

    if batched and isinstance(estimator, JointNMFBase) and todo:
        # settings share the data: stacked like restarts, one large product per step
        rows = fit_settings(estimator, [settings[g - 1] for g in todo], Xs, n_jobs=n_jobs,
                            verbose=verbose, **fit_kw)
        for i, row in rows:
            finished(todo[i], row)
    else:
        tasks = (delayed(_grid_task)(estimator, settings[g - 1], Xs, fit_kw) for g in todo)
        if n_jobs in (None, 1) or len(todo) <= 1:
            for g, task in zip(todo, tasks):
                finished(g, task[0](*task[1], **task[2]))
        else:
            par = Parallel(n_jobs=n_jobs, return_as="generator", verbose=verbose)
            for g, row in zip(todo, par(tasks)):
                finished(g, row)
    table = pd.DataFrame([done[g] for g in sorted(done)])
    table = table[["group", *names, "reconstruction_error", "relative_error", "objective", "n_iter", "bounded"]]
    table["rank"] = table["reconstruction_error"].rank(method="min").astype(int)
    best = best_setting(table)
    table.attrs["best"] = {p: float(best[p]) for p in names}
    table.attrs["best_group"] = int(best["group"])
    table.attrs["best_bounded"] = bool(best["bounded"])
    return table


def best_setting(table: pd.DataFrame) -> pd.Series:
    """The recommended row of a :func:`nmf_grid_search` table: the lowest
    reconstruction error among the settings whose objective is bounded below
    (spec §2.5); among all settings only when none is bounded (the row's
    ``bounded`` then says so). Settings that diverged (non-finite error) never are.
    Ties go to the lowest ``group``.
    """
    err = table["reconstruction_error"].to_numpy(dtype=np.float64)
    finite = table[np.isfinite(err)]
    if finite.empty:
        raise ValueError("every setting of the grid diverged (non-finite reconstruction error)")
    bounded = finite[finite["bounded"].astype(bool)]
    pool = bounded if len(bounded) else finite
    return pool.sort_values(["reconstruction_error", "group"], kind="mergesort").iloc[0]


def _fitted(estimator, Xs, fit_kw, **params):
    """A clone of ``estimator`` with ``params``, fitted quietly (convergence and
    boundedness are reported by the caller's table, not as warnings)."""
    model = clone(estimator).set_params(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(Xs, **fit_kw)
    return model


def _run_fits(tasks: list, n_jobs: int | None) -> list:
    """Results of joblib ``delayed`` tasks, in order, in this process or in parallel."""
    if n_jobs in (None, 1):
        return [f(*args, **kwargs) for f, args, kwargs in tasks]
    return Parallel(n_jobs=n_jobs)(tasks)


def _k_task(estimator, k, Xs, fit_kw, threshold):
    model = _fitted(estimator, Xs, fit_kw, n_components=k)
    row = {"n_components": k, **_score(model, Xs)}
    modules = extract_modules(model, threshold=threshold)
    overlap = mean_overlap_rate(modules)
    multi = multi_membership_rate(modules, n_components=k)
    corr = reconstruction_correlation(model, Xs)
    for I in range(len(Xs)):
        row[f"overlap_rate_{I}"] = float(overlap[I])
        row[f"multi_membership_{I}"] = float(multi[I])
        row[f"correlation_{I}"] = float(corr[I])
        row[f"empty_modules_{I}"] = int(sum(len(m[I]) == 0 for m in modules))
    return row


def select_n_components(
    Xs: Sequence[Any],
    n_components_range: Sequence[int] = tuple(range(5, 51, 5)),
    *,
    cross_adjacency: Mapping | None = None,
    graphs: Sequence | None = None,
    estimator=None,
    threshold: float | Sequence[float] = 2.0,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """K-selection curves of the JCB-SNMF paper (Figs. 3-4; spec §8 step 3).

    For each K: fit the estimator, then record the reconstruction error, the mean
    overlap rate of its modules per modality (:func:`mean_overlap_rate`), the
    fraction of member features in more than max(1, K/10) modules (the group's
    K-selection script's "overlap", :func:`multi_membership_rate`), the
    ``corr2`` Pearson correlation between X_I and W H_I per modality, and the
    number of empty modules. The paper chose K = 30 as the "balance point" of
    these curves; no automatic rule is imposed here.

    Parameters
    ----------
    Xs : list of M nonnegative arrays (n, p_I)
    n_components_range : sequence of int, default 5, 10, ..., 50
        K values; each must be <= min(n, p_I).
    estimator : joint NMF instance, optional
        Template with the chosen penalties (default as in :func:`nmf_grid_search`).
    threshold : float or per-modality sequence, default=2.0
        Module z-score threshold T.
    n_jobs : int or None

    Returns
    -------
    DataFrame, one row per K with columns ``n_components``,
    ``reconstruction_error``, ``relative_error``, ``objective``, ``n_iter`` and per
    modality I ``overlap_rate_I``, ``multi_membership_I``, ``correlation_I``,
    ``empty_modules_I``.
    """
    Xs = check_matrices(Xs, "Xs", nonnegative=True)
    ks = [int(k) for k in n_components_range]
    limit = min(min(X.shape) for X in Xs)
    too_big = [k for k in ks if k > limit or k < 1]
    if too_big:
        raise ValueError(f"n_components_range: {too_big} outside 1..min(n, p_I) = {limit}")
    estimator = _default_estimator(ks[0]) if estimator is None else estimator
    fit_kw = _fit_kwargs(estimator, cross_adjacency, graphs)
    tasks = [delayed(_k_task)(estimator, k, Xs, fit_kw, threshold) for k in ks]
    return pd.DataFrame(_run_fits(tasks, n_jobs))


def _run_task(estimator, seed, Xs, fit_kw, threshold, method, orientation):
    model = _fitted(estimator, Xs, fit_kw, n_restarts=1, random_state=seed)
    modules = extract_modules(model, threshold=threshold, method=method, orientation=orientation)
    return float(model.objective_[-1]), modules, reconstruction_correlation(model, Xs)


def restart_stability(
    Xs: Sequence[Any],
    n_runs: int = 10,
    *,
    cross_adjacency: Mapping | None = None,
    graphs: Sequence | None = None,
    estimator=None,
    threshold: float | Sequence[float] | None = None,
    method: str = "zscore",
    orientation: str = "row",
    random_state: Any = None,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Reproducibility of the co-modules across random restarts (spec §7, §8 step 4).

    The JCB-SNMF paper ran 100 random restarts at its chosen setting, kept the one
    with the lowest objective and reported how stable the modules were across
    restarts (Fig. 6). Here the estimator is fitted ``n_runs`` times, each from one
    random start (``n_restarts=1``, seed derived from ``random_state`` and the run
    number); the run with the lowest final objective is the reference, and every
    run's modules are matched to the reference's by Hungarian assignment on the
    overlap coefficient (:func:`~imaging_genetics.inference.modules.module_reproducibility`).
    A setting whose modules do not reproduce is a poor choice even when its
    reconstruction error is small, which is the criterion spec §8 recommends next to
    the paper's.

    Parameters
    ----------
    Xs : list of M nonnegative arrays (n, p_I)
    n_runs : int, default 10
        Independent random starts (at least 2).
    cross_adjacency, graphs
        Priors, as for the estimator's ``fit``.
    estimator : joint NMF instance, optional
        The setting to test (its ``n_restarts`` and ``random_state`` are replaced
        per run; default as in :func:`nmf_grid_search`).
    threshold, method, orientation
        Module rule, as in :func:`~imaging_genetics.inference.extract_modules`.
    random_state : int, RandomState or None
    n_jobs : int or None
        Runs fitted in parallel through joblib; the results do not depend on it.

    Returns
    -------
    DataFrame, one row per run: ``run``, ``seed``, ``objective``, ``reference``
    (True for the lowest objective) and per modality I ``reproducibility_I`` (mean
    matched overlap with the reference's modules; 1 for the reference),
    ``overlap_rate_I`` and ``correlation_I`` (corr2 of X_I and W H_I).
    ``df.attrs["reproducibility"]`` holds the mean of ``reproducibility_I`` over
    the other runs, per modality.
    """
    from .._validation import check_positive_int

    Xs = check_matrices(Xs, "Xs", nonnegative=True)
    n_runs = check_positive_int(n_runs, "n_runs")
    if n_runs < 2:
        raise ValueError(f"n_runs: need at least 2 runs to compare, got {n_runs}")
    module_thresholds(threshold, method, len(Xs), orientation)  # a bad rule fails before the fits
    estimator = _default_estimator(10) if estimator is None else estimator
    fit_kw = _fit_kwargs(estimator, cross_adjacency, graphs)
    seed = base_seed(random_state)
    seeds = [derive_seed(seed, "restart", r) for r in range(n_runs)]
    tasks = [delayed(_run_task)(estimator, sd, Xs, fit_kw, threshold, method, orientation) for sd in seeds]
    runs = _run_fits(tasks, n_jobs)
    objectives = np.array([r[0] for r in runs])
    ref = int(np.argmin(np.where(np.isfinite(objectives), objectives, np.inf)))
    rows = []
    for r, (objective, modules, corr) in enumerate(runs):
        row = {"run": r, "seed": seeds[r], "objective": objective, "reference": r == ref}
        repro = module_reproducibility(modules, runs[ref][1])
        overlap = mean_overlap_rate(modules)
        for I in range(len(Xs)):
            row[f"reproducibility_{I}"] = float(repro[I])
            row[f"overlap_rate_{I}"] = float(overlap[I])
            row[f"correlation_{I}"] = float(corr[I])
        rows.append(row)
    table = pd.DataFrame(rows)
    others = table[~table["reference"]]
    table.attrs["reproducibility"] = [float(others[f"reproducibility_{I}"].mean()) for I in range(len(Xs))]
    return table
