"""``imaging-genetics demo``: both studies, short, on built-in simulated data.

1. **Multi-task sparse CCA** (MTS2CCA paper): genotypes with realistic LD
   (coalescent when msprime is installed) against three imaging modalities with
   canonical correlations 0.8 / 0.5 / 0.2. MTS2CCA and its five competitors under
   nested cross-validation; feature-selection AUC and estimation accuracy per task
   against the planted supports and weights; time and memory of each method;
   MTS2CCA's parameter sensitivity, permutation p-values and weights; prediction of
   a simulated clinical score from every model's canonical variates (held-out RMSE
   and r); the objective and its surrogate per iteration.
2. **Joint NMF** (JCB-SNMF paper): sMRI, SNP and gene-expression matrices with
   planted co-modules and prior graphs. JCB-SNMF against JSNMNMF and JNMF; co-modules
   by z-score, their permutation significance, overlap per modality, recovery of the
   planted modules, reconstruction errors and correlations, and the top SNP–ROI /
   gene–ROI pairs.
3. **From modules to biology**: differential-expression screening (moderated t),
   marker ROC of the top genes and gene-set enrichment of a module, on the same
   simulated expression with planted diagnosis effects.

Everything is written to one folder: ``report.html`` (self-contained),
``results.json``, CSV tables and PNG figures.
"""

from __future__ import annotations

import time
import tracemalloc
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from ..base import atomic_write_bytes, write_json
from ..io.writers import write_table
from ..report import Report, figures as figs
from ._progress import Progress as _Progress
from .study import FINAL_PARAMS_RULE, _final_params, _plain

__all__ = ["run_demo", "DemoConfig"]


@dataclass
class DemoConfig:
    """Sizes and fit settings of the demo.

    The defaults are a short but complete version of both studies that finishes in
    about half a minute on two idle cores: every CCA model is tuned by nested
    cross-validation over one penalty (the others at their defaults), the many fits
    of cross-validation, sensitivity and permutations stop at ``cca_max_iter``
    iterations or a relative change below ``cca_tol``, the fits on all samples run to
    convergence (at most ``cca_final_max_iter`` iterations), and the joint NMF models
    use a few restarts, each run to convergence (at most ``nmf_iter`` iterations).
    Memory is measured on the first ``memory_iter`` iterations of a fit.

    The CCA data (:func:`~imaging_genetics.simulate.genotype_cca_data`) have
    ``n_rois`` regions in modules of ``module_size``; each task's region support is
    ``n_shared_modules`` whole modules plus ``n_specific_rois`` regions of its own, so
    with 90 regions about a quarter of them carry signal. The SNP support of a task
    is ``n_shared_windows`` + ``n_specific_windows`` windows of ``causal_window``
    adjacent SNPs; the SNPs are spread over ``n_chromosomes`` independent regions.
    SNPs in LD r² >= ``ld_proxy_r2`` with a planted SNP count as signal in the SNP
    AUC (see the report).
    """

    random_state: int = 0
    # multi-task sparse CCA study
    n_samples: int = 150
    n_snps: int = 240
    n_rois: int = 90
    n_chromosomes: int = 10
    causal_window: int = 3
    n_shared_windows: int = 2
    n_specific_windows: int = 1
    module_size: int = 10
    n_shared_modules: int = 2
    n_specific_rois: int = 3
    ld_proxy_r2: float = 0.8
    correlations: tuple = (0.8, 0.5, 0.2)
    outer_cv: int = 3
    inner_cv: int = 3
    grid: tuple = (0.1, 1.0)
    cca_max_iter: int = 100
    cca_final_max_iter: int = 2000
    cca_tol: float = 1e-4
    sensitivity_values: tuple = (0.01, 0.1, 1.0, 10.0, 100.0)
    sensitivity_fixed: float = 1.0
    sensitivity_cv: int = 3
    n_permutations: int = 39
    clinical_noise: float = 1.0
    # joint NMF study
    nmf_samples: int = 100
    nmf_features: tuple = (120, 200, 150)
    nmf_components: int = 5
    nmf_noise: float = 10.0
    nmf_within_density: float = 0.3
    nmf_cross_density: float = 0.1
    nmf_spurious_density: float = 0.005
    nmf_restarts: int = 3
    nmf_iter: int = 3000
    memory_iter: int = 20
    module_threshold: float = 2.0
    module_permutations: int = 199
    # biology follow-up
    de_fraction: float = 0.05
    de_effect: float = 0.8
    top_rows: int = 10
    n_jobs: int = 2


_MODALITIES = ("fMRI", "dMRI", "sMRI")
_NMF_NAMES = ("sMRI", "SNP", "gene")
#: MTS2CCA's four penalties under the paper's names (spec §2.1)
_PENALTY_NAMES = {"sparsity_x": "β1 (sparsity_x)", "sparsity_y": "β2 (sparsity_y)",
                  "smoothness_x": "λ1 (smoothness_x)", "smoothness_y": "λ2 (smoothness_y)"}


def _cca_models(cfg: DemoConfig) -> dict[str, tuple[Any, dict]]:
    """Each model with a one-parameter grid over its main penalty."""
    from ..cca import JCBSCCA, MTGSCCA, MTS2CCA, MTSCCA, SCCA, TCCA

    fit = {"max_iter": cfg.cca_max_iter, "tol": cfg.cca_tol, "random_state": cfg.random_state}
    grid = list(cfg.grid)
    return {
        "MTS2CCA": (MTS2CCA(**fit), {"sparsity_x": grid}),
        "MTSCCA": (MTSCCA(**fit), {"sparsity_x": grid}),
        "MTGSCCA": (MTGSCCA(**fit), {"group_sparsity": grid}),
        "JCBSCCA": (JCBSCCA(**fit), {"sparsity_x": grid}),
        "SCCA": (SCCA(**fit), {"sparsity_x": grid}),
        "TCCA": (TCCA(**fit), {"sparsity_x": grid}),
    }


def _ld_prior(snps: pd.DataFrame) -> Callable:
    """Prior networks from the training rows: LD graph for SNPs, corr² for regions."""
    from ..networks import correlation_graph, ld_graph

    def prior(X_train, Ys_train):
        return {
            "x_adjacency": ld_graph(X_train, positions=snps, window=500_000, r2_threshold=0.2),
            "y_adjacency": [correlation_graph(Y) for Y in Ys_train],
        }

    return prior


def _model_prior(model, snps: pd.DataFrame):
    """The prior of a model's fits: LD/corr² graphs for graph-using models, else the
    library's default (a model with SNP groups builds them itself)."""
    uses_graph = getattr(model, "_uses_x_graph", False) or getattr(model, "_uses_y_graph", False)
    return _ld_prior(snps) if uses_graph and not getattr(model, "_uses_groups", False) else "correlation"


def _task_names(values, tasks) -> list:
    return [tasks[int(t)] if str(t).isdigit() and int(t) < len(tasks) else t for t in values]


def _fit_time_memory(model, fit: Callable[[Any], Any], memory_iter: int) -> tuple[Any, float, float]:
    """Fit ``model`` with ``fit(model)`` and time it; then the peak memory that the
    first ``memory_iter`` iterations of the same fit allocate through Python and
    numpy (tracemalloc, MiB). The working arrays of these iterative solvers are all
    allocated in the first iterations, so the peak does not grow with more of them
    (and tracemalloc slows a fit down several times over).

    The growth of the process's resident memory is no measure at this size: a fit
    reuses memory the process already holds from earlier fits, so it grows by 0.
    """
    t0 = time.perf_counter()
    fit(model)
    seconds = time.perf_counter() - t0
    probe = clone(model).set_params(max_iter=min(int(memory_iter), int(model.max_iter)))
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit(probe)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        if started:
            tracemalloc.stop()
    return model, seconds, max(peak, 0) / 2.0**20


def _first_rise(values: np.ndarray) -> int | None:
    """Iteration (1-based) at which a trace first rises above round-off, else None."""
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        return None
    rise = np.diff(v) > 1e-10 * max(float(np.max(np.abs(v))), 1e-300)
    return int(np.argmax(rise)) + 2 if rise.any() else None


def _surrogate_monotone(trace: np.ndarray) -> bool:
    """Whether every block update lowered (or kept) its reweighted surrogate."""
    S = np.asarray(trace, dtype=float).reshape(-1, 4)
    if not S.size:
        return True
    scale = 1e-10 * max(float(np.max(np.abs(S))), 1e-300)
    return bool(np.all(S[:, 1] <= S[:, 0] + scale) and np.all(S[:, 3] <= S[:, 2] + scale))


def _ld_truth(X: np.ndarray, support: np.ndarray, r2: float) -> np.ndarray:
    """Planted SNPs of each task plus the SNPs in LD r² >= ``r2`` with one of them
    (in the whole simulated panel): (p, K) bool."""
    from ..networks import correlation_graph

    R2 = correlation_graph(X, power=2).toarray()  # zero diagonal: the planted SNPs come from ``support``
    return support | ((R2 >= r2).astype(np.int64) @ support.astype(np.int64) > 0)


def _abs_corr(A: np.ndarray, s: np.ndarray) -> np.ndarray:
    """|Pearson r| of each column of A with the vector s (0 for constant columns)."""
    Ac = A - A.mean(axis=0)
    sc = s - s.mean()
    den = np.sqrt((Ac**2).sum(axis=0) * (sc**2).sum())
    return np.where(den > 0, np.abs(Ac.T @ sc) / np.where(den > 0, den, 1.0), 0.0)


def _clinical_prediction(cfg: DemoConfig, X, Ys, snps, scores: np.ndarray, choices: dict) -> pd.DataFrame:
    """Cross-validated prediction of a simulated clinical score (the first task's latent
    genetic score plus noise) from each model's canonical variates, after a reference row
    that predicts it from the latent score itself. Columns: method, features, rmse, r."""
    from ..inference import predict_outcome
    from ..simulate._common import clinical_score

    clinical = clinical_score(scores[:, 0], cfg.clinical_noise, cfg.random_state)
    ref = predict_outcome(None, scores[:, :1], None, clinical, cv=cfg.outer_cv, random_state=cfg.random_state)
    rows = [{"method": "reference", "features": "true latent score", "rmse": ref.rmse, "r": ref.r}]
    for name, (model, _) in _cca_models(cfg).items():
        model.set_params(**choices[name]["params"])
        res = predict_outcome(model, X, Ys, clinical, features="variates", cv=cfg.outer_cv,
                              prior=_model_prior(model, snps), random_state=cfg.random_state, n_jobs=cfg.n_jobs)
        rows.append({"method": name, "features": "canonical variates", "rmse": res.rmse, "r": res.r})
    return pd.DataFrame(rows)


def _cca_data(cfg: DemoConfig):
    """The CCA study's simulated data: ``(X, Ys, truth)`` of
    :func:`~imaging_genetics.simulate.genotype_cca_data` with the demo's design."""
    from ..simulate import genotype_cca_data

    return genotype_cca_data(
        cfg.n_samples, cfg.n_snps, cfg.n_rois, correlations=cfg.correlations, random_state=cfg.random_state,
        n_chromosomes=cfg.n_chromosomes, window=cfg.causal_window, n_shared_windows=cfg.n_shared_windows,
        n_specific_windows=cfg.n_specific_windows, module_size=cfg.module_size,
        n_shared_modules=cfg.n_shared_modules, n_specific_rois=cfg.n_specific_rois)


def _best_module(sig: pd.DataFrame, n_permutations: int) -> tuple[int, str]:
    """The co-module to show: the smallest p-value; among modules tied at it, the
    largest statistic ρ*. Returns (0-based index, a sentence saying why)."""
    floor = 1.0 / (n_permutations + 1)
    tested = sig[np.isfinite(sig["p_value"].to_numpy(dtype=float))]
    pool = tested if len(tested) else sig
    ranked = pool.sort_values(["p_value", "rho_star", "module"], ascending=[True, False, True], na_position="last")
    best = int(ranked.iloc[0]["module"]) - 1
    if not len(tested):
        return best, f"No module has a p-value; module {best + 1} has the largest statistic ρ* and is shown."
    p_min = float(tested["p_value"].min())
    tied = tested[np.isclose(tested["p_value"].to_numpy(dtype=float), p_min)]
    if len(tied) > 1:
        at_floor = " (the smallest attainable p-value)" if np.isclose(p_min, floor) else ""
        return best, (f"{len(tied)} modules tie at p = {p_min:.3g}{at_floor}, so the p-value cannot rank them; "
                      f"among them module {best + 1} has the largest statistic ρ* "
                      f"({float(ranked.iloc[0]['rho_star']):.3f}) and is shown.")
    return best, f"Module {best + 1} has the smallest p-value and is shown."


def _cca_study(cfg: DemoConfig, out: Path, rep: Report, results: dict, progress: _Progress) -> None:
    from ..inference import estimation_accuracy, feature_selection_auc, nested_cv, permutation_test, sensitivity
    from ..inference.cv import prior_fit_params
    from ..inference.metrics import roc_points
    from ..simulate.genotypes import coalescent_available

    engine = "msprime coalescent" if coalescent_available() else "numpy haplotype-block model"
    progress.step(f"CCA: simulating genotypes with LD ({engine})")
    X, Ys, truth = _cca_data(cfg)
    snps = truth["snps"]
    K = len(Ys)
    tasks = list(_MODALITIES[:K]) if K <= len(_MODALITIES) else [f"task{k + 1}" for k in range(K)]
    x_planted = np.asarray(truth["x_support"], dtype=bool)               # (p, K)
    x_truth = _ld_truth(X, x_planted, cfg.ld_proxy_r2)                  # (p, K), LD-aware
    y_truth = np.column_stack(truth["y_support"])                       # (q, K)
    # true canonical weights on the standardised scale the models report
    u_true = np.asarray(truth["u_canonical"], dtype=float) * X.std(axis=0)[:, None]
    v_true = [np.asarray(v, dtype=float) * Y.std(axis=0) for v, Y in zip(truth["v_canonical"], Ys)]
    scores = np.asarray(truth["scores"], dtype=float)
    progress.advance()

    rows, pooled_rows, task_rows, roc_x, roc_y, fitted, choices, cv_seconds = [], [], [], {}, {}, {}, {}, {}
    for name, (model, grid) in _cca_models(cfg).items():
        progress.step(f"CCA: nested CV of {name}")
        prior = _model_prior(model, snps)
        t0 = time.perf_counter()
        res = nested_cv(model, X, Ys, grid, outer_cv=cfg.outer_cv, inner_cv=cfg.inner_cv, prior=prior,
                        random_state=cfg.random_state, n_jobs=cfg.n_jobs)
        cv_seconds[name] = time.perf_counter() - t0
        # fit_memory_mb (growth of the worker's resident memory) also counts what the
        # worker's libraries allocate once; the report's memory comes from tracemalloc below
        table = res.table.drop(columns=["fit_memory_mb"], errors="ignore").copy()
        table.insert(0, "method", name)
        table["task"] = _task_names(table["task"], tasks)
        rows.append(table)
        choices[name] = _final_params(res)
        U, V = res.mean_weights()
        Uk = U if U.shape[1] == K else np.repeat(U[:, :1], K, axis=1)  # one shared SNP vector: scored per task
        v_cols = [np.asarray(v, dtype=float).ravel() for v in V]
        auc_ld = feature_selection_auc(Uk, x_truth, per_task=True)
        auc_planted = feature_selection_auc(Uk, x_planted, per_task=True)
        auc_region = feature_selection_auc(v_cols, list(y_truth.T), per_task=True)
        acc_snp = estimation_accuracy(Uk, u_true)
        acc_region = estimation_accuracy(v_cols, v_true)
        for k, t in enumerate(tasks):
            task_rows.append({"method": name, "task": t, "auc_snp": auc_ld[k], "auc_snp_planted_only": auc_planted[k],
                              "auc_region": auc_region[k], "accuracy_snp": acc_snp[k],
                              "accuracy_region": acc_region[k]})
        chosen = "; ".join(_plain(bp) for bp in res.best_params)
        roc_x[name] = roc_points(U, x_truth)                            # (fpr, tpr, pooled AUC)
        roc_y[name] = roc_points(np.column_stack(v_cols), y_truth)
        pooled_rows.append({"method": name, "auc_snp_pooled": roc_x[name][2], "auc_region_pooled": roc_y[name][2],
                            "tuned": next(iter(grid)), "chosen_per_fold": chosen,
                            "final_params": _plain(choices[name]["params"])})
        fitted[name] = (U, V, res)
        progress.advance()
    for k, t in enumerate(tasks):
        snp_corr = _abs_corr(X, scores[:, k])
        task_rows.append({"method": "reference: |corr with the simulated genetic score|", "task": t,
                          "auc_snp": feature_selection_auc(snp_corr, x_truth[:, k]),
                          "auc_snp_planted_only": feature_selection_auc(snp_corr, x_planted[:, k]),
                          "auc_region": feature_selection_auc(_abs_corr(Ys[k], scores[:, k]), y_truth[:, k]),
                          "accuracy_snp": np.nan, "accuracy_region": np.nan})

    cv_table = pd.concat(rows, ignore_index=True)
    write_table(cv_table, out / "cca_nested_cv.csv", index=False)
    summary = (cv_table.groupby(["method", "task"], sort=False)[["train_ccc", "test_ccc"]]
               .agg(["mean", "std"]).round(4))
    summary.columns = [f"{a}_{b}" for a, b in summary.columns]
    summary = summary.reset_index()
    pooled = pd.DataFrame(pooled_rows)
    per_task = pd.DataFrame(task_rows)
    write_table(summary, out / "cca_summary.csv", index=False)
    write_table(pooled, out / "cca_feature_selection_auc.csv", index=False)
    write_table(per_task, out / "cca_selection_per_task.csv", index=False)

    n_test = sorted(set(int(v) for v in cv_table["n_test"]))
    n_test_text = f"{n_test[0]}" if len(n_test) == 1 else f"{n_test[0]}–{n_test[-1]}"
    se = [(1 - r**2) / np.sqrt(max(n_test[0] - 1, 1)) for r in cfg.correlations]
    n_x = int(x_planted.any(axis=1).sum())
    per_task_x = ", ".join(str(int(c)) for c in x_planted.sum(axis=0))
    per_task_ld = ", ".join(str(int(c)) for c in x_truth.sum(axis=0))
    per_task_y = ", ".join(str(int(c)) for c in y_truth.sum(axis=0))

    rep.section("Multi-task sparse CCA")
    rep.text(
        f"Simulated cohort: {cfg.n_samples} people, {cfg.n_snps} SNPs with realistic linkage disequilibrium "
        f"({engine}; {cfg.n_chromosomes} independent genomic regions), {K} imaging modalities of {cfg.n_rois} regions, "
        f"population canonical correlations {', '.join(str(c) for c in cfg.correlations)} "
        f"({', '.join(tasks)}). Each task's SNP signal sits on {cfg.n_shared_windows + cfg.n_specific_windows} windows "
        f"of {cfg.causal_window} adjacent SNPs ({cfg.n_shared_windows} shared by all tasks, {cfg.n_specific_windows} "
        f"of its own): {per_task_x} planted SNPs per task, {n_x} in all. Its region signal is {cfg.n_shared_modules} "
        f"whole modules of {cfg.module_size} regions shared by all modalities plus {cfg.n_specific_rois} regions of "
        f"its own: {per_task_y} of {cfg.n_rois} regions per task."
    )
    rep.text(
        f"MTS2CCA against MTSCCA, MTGSCCA, JCB-SCCA, SCCA and TCCA under nested {cfg.outer_cv}-fold cross-validation; "
        f"each model's main penalty is chosen from {{{', '.join(f'{g:g}' for g in cfg.grid)}}} by inner "
        f"{cfg.inner_cv}-fold CV (the other penalties at their defaults). Prior networks (LD for SNPs, corr² for "
        "regions) are built from the training rows of every split. The fits of cross-validation, of the sensitivity "
        f"analysis and of the permutation test stop at {cfg.cca_max_iter} iterations or when the relative change of "
        f"the weights and of the objective falls below {cfg.cca_tol:g}; many stop at {cfg.cca_max_iter}, before "
        f"converging. The fits on all samples (time, memory and objective below) may run {cfg.cca_final_max_iter} "
        "iterations; the convergence table says whether they converged."
    )
    rep.text(
        f"Where the demo departs from the paper's protocol, to stay short: {cfg.outer_cv}-fold instead of 5-fold "
        f"outer and {cfg.inner_cv}-fold instead of 5-fold inner CV; one penalty per model tuned over "
        f"{len(cfg.grid)} values instead of every penalty over 0.01, 0.1, 1, 10, 100; one simulated data set, no "
        f"repetitions; CV fits capped at {cfg.cca_max_iter} iterations. Each outer test fold holds only "
        f"{n_test_text} people, so a held-out correlation has a standard "
        f"error of about (1 − ρ²)/√(n_test − 1) = {', '.join(f'{s:.2f}' for s in se)} at ρ = "
        f"{', '.join(str(c) for c in cfg.correlations)}: smaller differences between methods are noise. Correlations "
        "are signed: corr(X_test u, Y_test v) with the training weights, so a held-out value below 0 means the "
        "training direction did not carry over (the original scripts average |CCC|, which cannot fall below 0)."
    )
    rep.table(summary, caption="Training and held-out canonical correlation per method and task "
                               "(signed; mean and SD over the outer folds)")
    reference = dict(zip(tasks, cfg.correlations))
    rep.figure(figs.ccc_bars(cv_table, reference=reference, reference_label="simulated population correlation"),
               caption="Canonical correlations by method and task (signed); error bars are SD over outer folds, "
                       "dashed lines the simulated population correlations.")

    rep.section("Feature selection and estimation accuracy", level=3)
    rep.text(
        f"AUC is the ROC AUC of |weight| of the fold-averaged weights (sign-aligned). Truth for SNPs: the planted "
        f"SNPs of the task plus every SNP in LD r² ≥ {cfg.ld_proxy_r2:g} with one of them in the simulated panel "
        f"({per_task_ld} SNPs per task). A SNP in such LD carries the same signal as the planted one and cannot be "
        f"told apart from it at n = {cfg.n_samples} (the spec's 'SNP support = whole LD blocks'); "
        "auc_snp_planted_only scores against the planted SNPs alone. Truth for regions: the planted regions of the "
        "task. Estimation accuracy is |cos| between the estimated and the true canonical weights (on the standardised "
        "scale the models use; 1 = exact up to sign and scale). JCB-SCCA and TCCA estimate one SNP vector for all "
        "tasks (TCCA also one region pattern); it is scored against each task's truth. For scale, the reference rows "
        "rank features by their correlation with the task's simulated genetic score, which no method can see (a "
        "marginal ranking: SNPs in weaker LD with planted ones rank high too, so a method can beat it)."
    )
    rep.table(per_task, caption="Feature-selection AUC and estimation accuracy per method and task "
                                "(spec §11.1, the paper's Table 2 per modality)")
    rep.table(pooled, caption="Pooled over tasks: AUC of the row norms of the weights across tasks against the "
                              "union of the task supports (LD-aware for SNPs); the tuned penalty, its value chosen in "
                              f"each outer fold and the value of the fits on all samples ({FINAL_PARAMS_RULE})")
    rep.figure(figs.roc_curves(roc_x, title="SNP selection ROC (row norms of U)"),
               caption=f"ROC of SNP selection per method, pooled over tasks, against the planted SNPs and their LD "
                       f"proxies (r² ≥ {cfg.ld_proxy_r2:g}).")
    rep.figure(figs.roc_curves(roc_y, title="Region selection ROC (row norms of V)"),
               caption="ROC of brain-region selection per method, pooled over tasks, against the union of the "
                       "planted regions.")

    # Fits on all samples with the parameters chosen by nested CV: time, memory, objective.
    progress.step("CCA: fits on all samples (time, memory, objective)")
    fit_rows, traces, notes = [], {}, {}
    for name, (model, _) in _cca_models(cfg).items():
        model.set_params(max_iter=cfg.cca_final_max_iter, **choices[name]["params"])
        prior = _model_prior(model, snps)
        kw = prior_fit_params(model, X, Ys, prior)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            m, seconds, alloc = _fit_time_memory(model, lambda est: est.fit(X, Ys, **kw), cfg.memory_iter)
        rss = cv_table.loc[cv_table["method"] == name, "peak_memory_mb"].max()
        converged = m.n_iter_ < cfg.cca_final_max_iter
        rise = _first_rise(m.objective_)
        fit_rows.append({"method": name, "params": _plain(choices[name]["params"]),
                         "nested_cv_seconds": cv_seconds[name], "fit_seconds": seconds,
                         "fit_peak_allocated_mib": alloc, "worker_peak_rss_mib": rss,
                         "iterations": int(m.n_iter_), "converged": "yes" if converged else f"no (max_iter {cfg.cca_final_max_iter})",
                         "objective_non_increasing": "yes" if rise is None else f"no: rises from iteration {rise}",
                         "surrogate_non_increasing": "yes" if _surrogate_monotone(m.surrogate_trace_) else "no"})
        traces[name] = m.objective_
        notes[name] = (f"converged at iteration {m.n_iter_}" if converged
                       else f"stopped at max_iter {cfg.cca_final_max_iter}")
    fits = pd.DataFrame(fit_rows)
    write_table(fits, out / "cca_fits_time_memory.csv", index=False)
    rep.section("Time and memory", level=3)
    rep.text(
        f"nested_cv_seconds: wall time of the whole nested CV of a method ({cfg.outer_cv} × {len(cfg.grid)} × "
        f"{cfg.inner_cv} inner fits and {cfg.outer_cv} outer refits on {cfg.n_jobs} worker processes). fit_seconds: "
        f"one fit on all {cfg.n_samples} samples with the chosen parameters, run to convergence on one thread. "
        f"fit_peak_allocated_mib: the peak memory that the first {cfg.memory_iter} iterations of that fit allocate "
        "through Python and numpy (tracemalloc; the working arrays are all allocated in the first iterations, and the "
        "data and prior graphs, made before the fit, are not counted), in MiB. worker_peak_rss_mib: the peak resident memory of a worker process "
        "during the outer-fold fits, mostly the interpreter and libraries, so it hardly differs between methods at "
        "this size; the growth of resident memory during a fit is no measure here, "
        "because a fit reuses memory the process already holds."
    )
    rep.table(fits[["method", "nested_cv_seconds", "fit_seconds", "fit_peak_allocated_mib", "worker_peak_rss_mib"]],
              caption="Time (seconds) and memory (MiB = 2^20 bytes) per method")

    U, V, res = fitted["MTS2CCA"]
    rep.section("MTS2CCA in detail", level=3)
    rep.figure(figs.weight_heatmap(U, column_labels=tasks, title="MTS2CCA SNP weights U"),
               caption="SNP weights (largest rows) per task, fold-averaged after sign alignment.")
    rep.figure(figs.weight_heatmap(np.column_stack(V), row_label="region", column_labels=tasks,
                                   title="MTS2CCA region weights V"), caption="Region weights per modality.")
    rep.figure(figs.manhattan(U, snps["chrom"], snps["pos"], highlight=x_planted.any(axis=1), ylabel="max |u| over tasks"),
               caption="SNP weights along the genome; circles mark the planted SNPs.")
    rep.figure(figs.region_weight_bars(np.column_stack(V), [f"ROI{j + 1}" for j in range(cfg.n_rois)],
                                       modality_labels=tasks), caption="Largest region weights per modality.")
    progress.advance()

    progress.step("CCA: MTS2CCA parameter sensitivity")
    model, _ = _cca_models(cfg)["MTS2CCA"]
    penalties = list(_PENALTY_NAMES)
    sens = sensitivity(model, X, Ys, penalties, values=list(cfg.sensitivity_values),
                       fixed={p: cfg.sensitivity_fixed for p in penalties}, cv=cfg.sensitivity_cv,
                       prior=_ld_prior(snps), random_state=cfg.random_state, n_jobs=cfg.n_jobs)
    sens["task"] = _task_names(sens["task"], tasks)
    write_table(sens, out / "cca_sensitivity.csv", index=False)
    sens_summary = (sens.groupby(["parameter", "value", "task"], sort=False)[["train_ccc", "test_ccc"]]
                    .agg(["mean", "std"]))
    sens_summary.columns = [f"{a}_{b}" for a, b in sens_summary.columns]
    sens_summary = sens_summary.reset_index()
    shown = sens.assign(parameter=sens["parameter"].map(lambda p: _PENALTY_NAMES.get(p, p)))
    rep.figure(figs.sensitivity_curves(shown, title=f"MTS2CCA sensitivity (held-out CCC, {cfg.sensitivity_cv}-fold CV)",
                                       ylabel="held-out canonical correlation"),
               caption=f"Held-out canonical correlation (mean ± SD over {cfg.sensitivity_cv} folds) as one penalty "
                       f"varies over {', '.join(f'{v:g}' for v in cfg.sensitivity_values)} with the other three fixed "
                       f"at {cfg.sensitivity_fixed:g} (the paper's design; β1, β2 weigh the l2,1 sparsity of SNPs and "
                       f"regions, λ1, λ2 the LD and corr² network smoothness).")
    progress.advance()

    progress.step("CCA: permutation test")
    choice = choices["MTS2CCA"]
    model = _cca_models(cfg)["MTS2CCA"][0].set_params(**choice["params"])
    perm = permutation_test(model, X, Ys, n_permutations=cfg.n_permutations, statistic="insample",
                            prior=_ld_prior(snps), random_state=cfg.random_state, n_jobs=cfg.n_jobs)
    perm = perm.copy()
    if "task" in perm.columns:
        perm["task"] = _task_names(perm["task"], tasks)
    write_table(perm, out / "cca_permutation.csv", index=False)
    floor = 1.0 / (cfg.n_permutations + 1)
    rep.text(
        f"Permutation test of MTS2CCA with {_plain(choice['params'])} (chosen in {choice['votes']} of "
        f"{choice['n_folds']} outer folds; rule: {FINAL_PARAMS_RULE}). The statistic of a task is the in-sample "
        f"canonical correlation corr(X u_k, Y_k v_k) of a fit on all {cfg.n_samples} samples. Each of the "
        f"{cfg.n_permutations} permutations shuffles the rows of all imaging modalities together and refits from "
        f"scratch (prior networks included); p = (1 + #{{permuted ≥ observed}}) / (B + 1), so the smallest attainable "
        f"p-value is 1/{cfg.n_permutations + 1} = {floor:.3g}. An in-sample correlation is optimistic, but the "
        "permuted fits are optimised the same way, so the test is valid."
    )
    rep.table(perm, caption=f"MTS2CCA permutation p-values (B = {cfg.n_permutations}; smallest attainable p = {floor:.3g}); "
                            "statistic = in-sample canonical correlation on all samples, null_mean and null_sd over "
                            "the permutations")
    progress.advance()

    progress.step("CCA: clinical-score prediction")
    prediction = _clinical_prediction(cfg, X, Ys, snps, scores, choices)
    write_table(prediction, out / "cca_clinical_prediction.csv", index=False)
    ceiling = 1.0 / np.sqrt(1.0 + cfg.clinical_noise ** 2)
    rep.section("Clinical-score prediction", level=3)
    rep.text(
        f"A simulated clinical score, the latent genetic score of the {tasks[0]} task plus independent noise (SD "
        f"{cfg.clinical_noise:g}; the best attainable correlation is {ceiling:.2f}), is predicted from each model's "
        f"canonical variates X u_k and Y_k v_k by ridge regression under {cfg.outer_cv}-fold cross-validation: in "
        "every fold the CCA model (with the parameters chosen above), the scaling of the variates and the ridge "
        "penalty are fitted on the training rows only. RMSE and Pearson r are those of the pooled held-out "
        "predictions; the first row predicts from the true latent score itself (the reference).")
    rep.table(prediction.round(4), caption="Clinical-score prediction from the canonical variates (held-out RMSE and r)")
    progress.advance()

    progress.step("CCA: objective traces")
    rep.figure(figs.objective_traces(traces, title="Objective per iteration (fits on all samples)", panels=True,
                                     notes=notes),
               caption="Penalised objective of each model's fit on all samples, one panel per model with its own "
                       "value axis (values of different models are not comparable). The reweighted algorithm lowers a "
                       "surrogate of the objective at every block update, not the objective itself, which can rise "
                       "again near the end (table below).")
    rep.table(fits[["method", "params", "iterations", "converged", "objective_non_increasing",
                    "surrogate_non_increasing"]],
              caption=f"Convergence of the fits on all samples: converged = relative change of the weights and of "
                      f"the objective below {cfg.cca_tol:g} before max_iter {cfg.cca_final_max_iter}; "
                      "surrogate_non_increasing = every SNP-block and imaging-block update lowered its reweighted "
                      "surrogate (surrogate_trace_)")
    progress.advance()

    results["cca"] = {
        "genotypes": engine,
        "summary": summary.to_dict(orient="records"),
        "feature_selection_auc": pooled.to_dict(orient="records"),
        "feature_selection_per_task": per_task.to_dict(orient="records"),
        "truth": {
            "snp": f"planted SNPs plus SNPs in LD r2 >= {cfg.ld_proxy_r2:g} with one of them",
            "snp_planted_per_task": [int(c) for c in x_planted.sum(axis=0)],
            "snp_ld_aware_per_task": [int(c) for c in x_truth.sum(axis=0)],
            "region": "planted regions of the task",
            "region_per_task": [int(c) for c in y_truth.sum(axis=0)],
            "accuracy": "|cos| between estimated and true canonical weights (standardised scale)",
        },
        "fits": fits.to_dict(orient="records"),
        "sensitivity": {"fixed": cfg.sensitivity_fixed, "values": list(cfg.sensitivity_values),
                        "summary": sens_summary.to_dict(orient="records")},
        "permutation": perm.to_dict(orient="records"),
        "permutation_params": {"rule": FINAL_PARAMS_RULE, **choice,
                               "statistic": "in-sample canonical correlation on all samples",
                               "smallest_attainable_p": floor},
        "clinical_prediction": prediction.to_dict(orient="records"),
        "n_test_per_fold": n_test,
        "n_samples": cfg.n_samples, "n_snps": cfg.n_snps, "n_rois": cfg.n_rois,
        "correlations": list(cfg.correlations),
    }


def _nmf_study(cfg: DemoConfig, out: Path, rep: Report, results: dict, progress: _Progress) -> dict:
    from ..biology import benjamini_hochberg, top_pairs
    from ..inference import extract_modules, module_significance, reconstruction_correlation, reconstruction_errors
    from ..inference.modules import best_match_jaccard, mean_overlap_rate
    from ..nmf import JCBSNMF, JNMF, JSNMNMF
    from ..simulate import joint_nmf_data

    progress.step("NMF: simulating sMRI, SNP and expression data")
    Xs, truth = joint_nmf_data(cfg.nmf_samples, n_features=cfg.nmf_features, n_components=cfg.nmf_components,
                               noise_level=cfg.nmf_noise, random_state=cfg.random_state,
                               within_density=cfg.nmf_within_density, cross_density=cfg.nmf_cross_density,
                               spurious_density=cfg.nmf_spurious_density)
    scaled = [X / max(np.linalg.norm(X), 1e-12) for X in Xs]
    signal = np.concatenate([np.ravel(S) for S in truth["signal"]])
    signal_mean, signal_sd = float(signal.mean()), float(signal.std())
    progress.advance()

    models = {
        "JCB-SNMF": JCBSNMF(n_components=cfg.nmf_components, cross_strength=1e-3, smoothness=1e-4, basis_penalty=0.1,
                            sparsity=1e-3, n_restarts=cfg.nmf_restarts, max_iter=cfg.nmf_iter, random_state=cfg.random_state),
        "JSNMNMF": JSNMNMF(n_components=cfg.nmf_components, cross_strength=1e-3, basis_penalty=0.1, sparsity=1e-3,
                           n_restarts=cfg.nmf_restarts, max_iter=cfg.nmf_iter, random_state=cfg.random_state),
        "JNMF": JNMF(n_components=cfg.nmf_components, n_restarts=cfg.nmf_restarts, max_iter=cfg.nmf_iter,
                     random_state=cfg.random_state),
    }
    rows, time_rows, traces, notes, fitted = [], [], {}, {}, {}
    for name, model in models.items():
        progress.step(f"NMF: fitting {name}")
        # each model gets the prior information its objective has a term for
        kw = {"cross_adjacency": truth["cross_adjacency"], "graphs": truth["graphs"]}
        if name == "JSNMNMF":
            kw.pop("graphs")
        elif name == "JNMF":
            kw = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model, seconds, alloc = _fit_time_memory(model, lambda est: est.fit(scaled, **kw), cfg.memory_iter)
        modules = extract_modules(model, threshold=cfg.module_threshold)
        jac = best_match_jaccard(modules, truth["modules"])
        rc = np.ravel(reconstruction_correlation(model, scaled))
        errors = reconstruction_errors(model, scaled)
        relative = errors["relative_frobenius"].to_numpy()[: len(_NMF_NAMES)]
        converged = bool(model.converged_)
        rows.append({"model": name, "reconstruction_error": float(model.reconstruction_err_),
                     **{f"relative_error_{m}": float(e) for m, e in zip(_NMF_NAMES, relative)},
                     **{f"reconstruction_r_{m}": float(r) for m, r in zip(_NMF_NAMES, rc)},
                     "planted_module_jaccard": float(np.mean(jac)), "final_objective": float(model.objective_[-1]),
                     "iterations": int(model.n_iter_),
                     "converged": "yes" if converged else f"no (stopped at max_iter {cfg.nmf_iter})"})
        time_rows.append({"model": name, "fit_seconds": seconds, "restarts": cfg.nmf_restarts,
                          "iterations_best_restart": int(model.n_iter_), "fit_peak_allocated_mib": alloc})
        every = int(getattr(model, "_check_every", 10))
        traces[name] = (figs.checkpoint_iterations(len(model.objective_), model.n_iter_, every), model.objective_)
        notes[name] = f"converged at iteration {model.n_iter_}" if converged else f"stopped at max_iter {cfg.nmf_iter}"
        fitted[name] = (model, modules)
        progress.advance()
    comparison = pd.DataFrame(rows)
    nmf_time = pd.DataFrame(time_rows)
    write_table(comparison, out / "nmf_comparison.csv", index=False)
    write_table(nmf_time, out / "nmf_time_memory.csv", index=False)

    model, modules = fitted["JCB-SNMF"]
    labels = [_nmf_labels(name, X.shape[1]) for name, X in zip(_NMF_NAMES, Xs)]
    progress.step("NMF: module significance")
    sig_rows = []
    for i, module in enumerate(modules):
        sizes = [len(m) for m in module]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # fewer than two modalities: NaN, said in the report
            res = module_significance(module, scaled, n_permutations=cfg.module_permutations,
                                      random_state=cfg.random_state + i, return_details=True)
        sig_rows.append({"module": i + 1, **{f"n_{m}": s for m, s in zip(_NMF_NAMES, sizes)},
                         "rho_star": float(res["statistic"]), "p_value": float(res["p_value"])})
    sig = pd.DataFrame(sig_rows)
    sig["fdr"] = benjamini_hochberg(sig["p_value"].to_numpy())
    members = pd.DataFrame({f"members_{m}": [";".join(labels[I][j] for j in module[I]) for module in modules]
                            for I, m in enumerate(_NMF_NAMES)})
    write_table(pd.concat([sig, members], axis=1), out / "nmf_modules.csv", index=False)
    overlap = {m: float(v) for m, v in zip(_NMF_NAMES, mean_overlap_rate(modules))}
    progress.advance()

    W = model.basis_
    write_table(pd.DataFrame(W, columns=[f"module{k + 1}" for k in range(W.shape[1])]), out / "nmf_basis_W.csv", index=False)
    memberships = {}
    for I, name in enumerate(_NMF_NAMES):
        M = np.zeros((Xs[I].shape[1], len(modules)), dtype=bool)
        for k, module in enumerate(modules):
            M[module[I], k] = True
        memberships[name] = M

    # The most significant module's strongest cross-modal pairs (the paper's Table 5, Fig. 12).
    floor = 1.0 / (cfg.module_permutations + 1)
    best_k, choice_text = _best_module(sig, cfg.module_permutations)
    mod = modules[best_k]
    pair_kw = {"top": 10}
    snp_roi = top_pairs(Xs[1], Xs[0], mod[1], mod[0], names=("snp", "roi"), labels_a=labels[1], labels_b=labels[0], **pair_kw)
    gene_roi = top_pairs(Xs[2], Xs[0], mod[2], mod[0], names=("gene", "roi"), labels_a=labels[2], labels_b=labels[0], **pair_kw)
    write_table(snp_roi, out / "nmf_top_snp_roi_pairs.csv", index=False)
    write_table(gene_roi, out / "nmf_top_gene_roi_pairs.csv", index=False)

    rep.section("Joint graph-regularised NMF")
    rep.text(
        f"Simulated data (JCB-SNMF design): {cfg.nmf_samples} people; sMRI, SNP and gene-expression matrices of "
        f"{', '.join(str(p) for p in cfg.nmf_features)} features, X_I = W0 H0_I + noise with {cfg.nmf_components} "
        f"planted co-modules. The noise is Gaussian with SD {cfg.nmf_noise:g} (then clipped at 0), against noise-free "
        f"entries W0 H0_I of mean {signal_mean:.0f} and SD {signal_sd:.0f}: the noise variance is "
        f"{100 * cfg.nmf_noise**2 / max(signal_sd**2, 1e-300):.1f}% of the signal variance, an easy setting. Best of "
        f"{cfg.nmf_restarts} restarts, at most {cfg.nmf_iter} iterations each."
    )
    rep.text(
        "The prior graphs are the simulation's own (oracle priors): within each modality they link members of the "
        f"same planted co-module (each pair with probability {cfg.nmf_within_density:g}), across modalities members "
        f"of the same co-module (probability {cfg.nmf_cross_density:g}), plus random edges (density "
        f"{cfg.nmf_spurious_density:g}). Real priors (LD, gene networks, eQTL maps) agree far less with the modules, "
        "so the gain of the graph-regularised models here is an upper bound."
    )
    rep.text(
        "Each modality is divided by its Frobenius norm before fitting (||X_I||_F = 1), so the three weigh equally in "
        "the fit. reconstruction_error = sqrt(Σ_I ||X_I − W H_I||_F²) on these scaled data; relative_error_<modality> "
        "= ||X_I − W H_I||_F / ||X_I||_F (spec §7); reconstruction_r_<modality> = Pearson correlation of the entries "
        "of X_I and W H_I; planted_module_jaccard = mean best-match Jaccard index of the found co-modules to the "
        "planted ones. converged: the relative decrease of the objective between checks (every 10 iterations) fell "
        "below the tolerance; 'no' means the fit stopped at max_iter."
    )
    rep.table(comparison, caption="JCB-SNMF against JSNMNMF and JNMF (same data, same restarts)")
    rep.table(nmf_time, caption=f"Time and memory per model: fit_seconds = wall time of the fit with all "
                                f"{cfg.nmf_restarts} restarts (one thread); fit_peak_allocated_mib = peak memory that the "
                                f"first {cfg.memory_iter} iterations of the fit allocate through Python and numpy "
                                "(tracemalloc), in MiB (2^20 bytes)")
    rep.figure(figs.objective_traces(traces, title="Objective of the best restart", log=True, panels=True, notes=notes),
               caption="Objective of each model's best restart against the iteration (recorded at iteration 0 and "
                       "every 10 iterations; logarithmic axis), one panel per model: it never increases. Objectives "
                       "of different models are not comparable.")
    rep.text(f"JCB-SNMF co-modules: a feature belongs to module i when the z-score of its weight in row i of H_I "
             f"exceeds {cfg.module_threshold:g}. ρ* is the mean squared cross-modal correlation of the members "
             f"(the paper's statistic); its p-value comes from {cfg.module_permutations} permutations of the samples "
             f"(smallest attainable p = 1/{cfg.module_permutations + 1} = {floor:.3g}), BH-adjusted over the modules. "
             "nmf_modules.csv lists the members.")
    rep.table(sig, caption="JCB-SNMF co-modules: sizes per modality, ρ*, permutation p-values and FDR")
    rep.figure(figs.module_membership_heatmap(memberships), caption="Membership of each feature in each co-module.")
    if len(modules) > 1:
        rep.text("Mean pairwise overlap rate |R_i ∩ R_j| / min(|R_i|, |R_j|) between co-modules, per modality: "
                 + ", ".join(f"{m} {v:.3f}" for m, v in overlap.items()) + ".")

    rep.section(f"Module {best_k + 1}: strongest SNP–ROI and gene–ROI pairs", level=3)
    rep.text(f"{choice_text} It has {len(mod[0])} regions, {len(mod[1])} SNPs and {len(mod[2])} genes. "
             "Pearson correlations of every member pair across modalities; FDR is Benjamini–Hochberg over all "
             "pairs tested (the paper's Table 5 and Fig. 12).")
    for table, (a, b), (ia, ib), what in ((snp_roi, ("snp", "roi"), (1, 0), "SNP–ROI"),
                                          (gene_roi, ("gene", "roi"), (2, 0), "gene–ROI")):
        if len(table):
            rep.figure(_pair_figure(Xs, mod, ia, ib, labels, table, (a, b), f"Module {best_k + 1}: {what} correlations"),
                       caption=f"{what} correlations among the features of the top pairs; dots mark the top pairs.")
            rep.table(table, caption=f"Module {best_k + 1}: strongest {what} pairs")
        else:
            rep.text(f"Module {best_k + 1} has no {what} pair to show (a modality without members).")

    results["nmf"] = {
        "comparison": comparison.to_dict(orient="records"),
        "time_memory": nmf_time.to_dict(orient="records"),
        "modules": pd.concat([sig, members], axis=1).to_dict(orient="records"),
        "overlap_rate": overlap,
        "best_module": best_k + 1,
        "best_module_choice": choice_text,
        "noise": {"sd": cfg.nmf_noise, "signal_mean": signal_mean, "signal_sd": signal_sd},
        "priors": "the simulation's own graphs (oracle priors)",
        "top_snp_roi_pairs": snp_roi.to_dict(orient="records"),
        "top_gene_roi_pairs": gene_roi.to_dict(orient="records"),
    }
    return {"Xs": Xs, "truth": truth, "modules": modules, "best_module": best_k, "labels": labels}


def _nmf_labels(modality: str, n: int) -> list[str]:
    prefix = {"sMRI": "ROI", "SNP": "rs", "gene": "GENE"}[modality]
    width = len(str(n))
    return [f"{prefix}{j + 1:0{width}d}" for j in range(n)]


def _pair_figure(Xs, module, ia: int, ib: int, labels, table: pd.DataFrame, names, title: str):
    """Correlation heat map of the features occurring in the top pairs (top pairs marked)."""
    from ..biology import pair_heatmap

    return pair_heatmap(Xs[ia], Xs[ib], module[ia], module[ib], names=names, top=len(table),
                        labels_a=labels[ia], labels_b=labels[ib], title=title)


def _biology_study(cfg: DemoConfig, out: Path, rep: Report, results: dict, progress: _Progress, nmf: dict) -> None:
    from ..biology import enrichment, marker_roc, moderated_t_test, plot_marker_roc, read_gmt, welch_t_test

    progress.step("Biology: differential-expression screening")
    rng = np.random.default_rng(cfg.random_state + 1)
    expression = np.log1p(nmf["Xs"][2])
    n, g = expression.shape
    genes = nmf["labels"][2]
    diagnosis = np.where(rng.random(n) < 0.5, "AD", "HC")
    planted = np.sort(rng.choice(g, size=max(5, int(round(cfg.de_fraction * g))), replace=False))
    expression = expression.copy()
    shift = cfg.de_effect * expression[:, planted].std(axis=0)
    expression[np.ix_(diagnosis == "AD", planted)] += shift
    frame = pd.DataFrame(expression, columns=genes)
    de = moderated_t_test(frame, diagnosis, levels=("AD", "HC"))
    welch = welch_t_test(frame, diagnosis, levels=("AD", "HC"))
    write_table(de, out / "biology_differential_expression.csv", index=False)
    write_table(welch, out / "biology_welch_t.csv", index=False)
    planted_names = {genes[j] for j in planted}
    selected = de.loc[de["p"] < 0.01, "gene"].tolist()
    selected_welch = welch.loc[welch["p"] < 0.01, "gene"].tolist()
    power = pd.DataFrame([
        {"test": test, "genes_p_below_0.01": len(sel), "planted_found": len(set(sel) & planted_names),
         "false_positives": len(set(sel) - planted_names), "planted": len(planted_names)}
        for test, sel in (("moderated t (empirical Bayes)", selected), ("Welch t", selected_welch))
    ])
    progress.advance()

    progress.step("Biology: marker ROC")
    hits = de.sort_values("p").head(5)
    roc = marker_roc(frame[hits["gene"].tolist()], diagnosis, positive="AD")
    write_table(roc, out / "biology_marker_roc.csv", index=False)
    roc_figure = plot_marker_roc(frame[hits["gene"].tolist()], diagnosis, positive="AD")
    progress.advance()

    progress.step("Biology: gene-set enrichment")
    # A local gene-set file: the planted diagnosis genes, the genes of each planted
    # co-module ("pathways" of the simulation) and random sets of the same sizes.
    gmt = out / "demo_gene_sets.gmt"
    sets = {"PLANTED_DIAGNOSIS_SET": [genes[j] for j in planted]}
    for k, module in enumerate(nmf["truth"]["modules"]):
        sets[f"SIMULATED_PATHWAY_{k + 1}"] = [genes[j] for j in np.ravel(module[2])]
    for s in range(8):
        size = len(planted) if s % 2 == 0 else max(5, len(np.ravel(nmf["truth"]["modules"][0][2])))
        sets[f"RANDOM_SET_{s + 1}"] = [genes[j] for j in rng.choice(g, size=size, replace=False)]
    text = "".join(f"{name}\tsimulated\t" + "\t".join(members) + "\n" for name, members in sets.items()).encode()
    atomic_write_bytes(gmt, lambda fh: fh.write(text))
    gene_sets = read_gmt(gmt)
    enr = enrichment(selected, gene_sets, background=genes) if selected else pd.DataFrame()
    write_table(enr, out / "biology_enrichment_screened_genes.csv", index=False)
    best = nmf["best_module"]
    module_genes = [genes[j] for j in nmf["modules"][best][2]]
    enr_module = enrichment(module_genes, gene_sets, background=genes) if module_genes else pd.DataFrame()
    write_table(enr_module, out / "biology_enrichment_module.csv", index=False)
    progress.advance()

    rep.section("From modules to biology")
    rep.text(
        f"Expression of {g} genes (the joint NMF study's expression matrix, log-transformed) in {n} people with a "
        f"planted diagnosis effect of {cfg.de_effect:g} SD on {len(planted)} genes (AD vs HC). Moderated t "
        "(empirical-Bayes variance shrinkage across genes, as in limma) and the plain Welch t-test, each with "
        "Benjamini–Hochberg FDR; genes with p < 0.01 are kept, as in the JCB-SNMF paper."
    )
    rep.table(power, caption="Screening at p < 0.01: planted genes found and false positives per test")
    top_de = de.sort_values("p").head(15).reset_index(drop=True)
    rep.table(top_de, caption=f"Top 15 of {len(de)} genes by moderated-t p-value (all in "
                              "biology_differential_expression.csv). mean_difference = mean of log(1 + expression) in AD "
                              "minus that in HC (natural log; 0.1 is about a 10% higher expression); mean_case and "
                              "mean_control are the group means on that scale")
    rep.table(roc, caption="Top genes as diagnostic markers: ROC AUC with DeLong 95% CI and p-value (the paper's Table 4)")
    rep.figure(roc_figure, caption="ROC curves of the top genes for AD vs HC (the paper's Fig. 11).")
    rep.text(f"Gene-set over-representation (hypergeometric, BH over the sets, background = the {g} genes analysed) "
             f"against a local GMT file of {len(gene_sets)} sets: the planted diagnosis genes, the genes of each "
             "planted co-module and random sets.")
    top = cfg.top_rows
    if len(enr):
        rep.table(enr.head(top), caption=f"Enrichment of the screened genes (p < 0.01): top {min(top, len(enr))} of "
                                         f"{len(enr)} gene sets by p-value (all in biology_enrichment_screened_genes.csv)")
    if len(enr_module):
        rep.table(enr_module.head(top),
                  caption=f"Enrichment of co-module {best + 1}'s {len(module_genes)} genes: top "
                          f"{min(top, len(enr_module))} of {len(enr_module)} gene sets by p-value (all in "
                          "biology_enrichment_module.csv)")
    results["biology"] = {
        "n_planted_genes": len(planted),
        "screening": power.to_dict(orient="records"),
        "n_selected_genes": len(selected),
        "n_planted_recovered": len(set(selected) & planted_names),
        "top_markers": roc.to_dict(orient="records"),
        "enrichment_screened": enr.to_dict(orient="records") if len(enr) else [],
        "enrichment_module": enr_module.to_dict(orient="records") if len(enr_module) else [],
    }


def run_demo(out: str | Path, config: DemoConfig | None = None, *, quiet: bool = False) -> Path:
    """Run both studies on simulated data and write the report folder.

    Parameters
    ----------
    out : path
        Folder for ``report.html``, ``results.json``, CSV tables and PNG figures.
    config : DemoConfig, optional
        Sizes and seeds (defaults: about half a minute on 2 idle cores).
    quiet : bool
        No progress display.

    Returns
    -------
    pathlib.Path
        The report file.
    """
    cfg = config or DemoConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep = Report("imaging-genetics demo", subtitle="Both method families on built-in simulated data.",
                 figure_dir=out / "figures")
    results: dict[str, Any] = {"config": {k: v for k, v in vars(cfg).items()}}
    t0 = time.perf_counter()
    progress = _Progress(total=12 + 5 + 3, quiet=quiet)
    # The matrices are small: one BLAS thread per process is much faster than
    # threads competing for the same cores, and it leaves cores to the joblib workers.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        # Fits are capped at max_iter on purpose; the report says which ones stopped there.
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            _cca_study(cfg, out, rep, results, progress)
            nmf = _nmf_study(cfg, out, rep, results, progress)
            _biology_study(cfg, out, rep, results, progress, nmf)
        finally:
            progress.close()
    results["figures"] = [str(p.relative_to(out)) for p in rep.figure_files]
    results["step_seconds"] = progress.timings
    results["seconds"] = time.perf_counter() - t0
    write_json(out / "results.json", results)
    return rep.write(out / "report.html")
