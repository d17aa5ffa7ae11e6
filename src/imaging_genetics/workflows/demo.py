"""``imaging-genetics demo``: both studies, short, on built-in simulated data.

1. **Multi-task sparse CCA** (MTS2CCA paper): genotypes with realistic LD
   (coalescent when msprime is installed) against three imaging modalities with
   canonical correlations 0.8 / 0.5 / 0.2. MTS2CCA and its five competitors under
   nested cross-validation; feature-selection ROC against the planted supports;
   MTS2CCA's parameter sensitivity, permutation p-values and weights.
2. **Joint NMF** (JCB-SNMF paper): sMRI, SNP and gene-expression matrices with
   planted co-modules and prior graphs. JCB-SNMF against JSNMNMF and JNMF; co-modules
   by z-score, their permutation significance, overlap, recovery of the planted
   modules, reconstruction correlation, and the top SNP–ROI / gene–ROI pairs.
3. **From modules to biology**: differential-expression screening (moderated t),
   marker ROC of the top genes and gene-set enrichment of a module, on the same
   simulated expression with planted diagnosis effects.

Everything is written to one folder: ``report.html`` (self-contained),
``results.json``, CSV tables and PNG figures.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from ..base import atomic_write_bytes, write_json
from ..io.writers import write_table
from ..report import Report, figures as figs
from ._progress import Progress as _Progress

__all__ = ["run_demo", "DemoConfig"]


@dataclass
class DemoConfig:
    """Sizes and fit settings of the demo.

    The defaults are a short but complete version of both studies that finishes in
    about a minute and a half on two idle cores: every CCA model is tuned by nested
    cross-validation over one penalty (the others at their defaults), fits stop at
    ``cca_max_iter`` iterations or a relative change below ``cca_tol``, and the joint
    NMF models use a few restarts.
    """

    random_state: int = 0
    # multi-task sparse CCA study
    n_samples: int = 150
    n_snps: int = 200
    n_rois: int = 30
    correlations: tuple = (0.8, 0.5, 0.2)
    outer_cv: int = 3
    inner_cv: int = 3
    grid: tuple = (0.1, 1.0)
    cca_max_iter: int = 100
    cca_tol: float = 1e-4
    sensitivity_values: tuple = (0.01, 0.1, 1.0, 10.0)
    sensitivity_cv: int = 3
    n_permutations: int = 19
    # joint NMF study
    nmf_samples: int = 100
    nmf_features: tuple = (120, 200, 150)
    nmf_components: int = 5
    nmf_noise: float = 10.0
    nmf_restarts: int = 3
    nmf_iter: int = 300
    module_permutations: int = 199
    # biology follow-up
    de_fraction: float = 0.05
    de_effect: float = 0.8
    n_jobs: int = 2


_MODALITIES = ("fMRI", "dMRI", "sMRI")
_NMF_NAMES = ("sMRI", "SNP", "gene")


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


def _accepts_graphs(model) -> tuple[bool, bool]:
    return getattr(model, "_uses_x_graph", False), getattr(model, "_uses_y_graph", False)


def _task_names(values, tasks) -> list:
    return [tasks[int(t)] if str(t).isdigit() and int(t) < len(tasks) else t for t in values]


def _cca_study(cfg: DemoConfig, out: Path, rep: Report, results: dict, progress: _Progress) -> None:
    from ..inference import feature_selection_auc, nested_cv, permutation_test, sensitivity
    from ..inference.metrics import roc_points
    from ..simulate import genotype_cca_data
    from ..simulate.genotypes import coalescent_available

    engine = "msprime coalescent" if coalescent_available() else "numpy haplotype-block model"
    progress.step(f"CCA: simulating genotypes with LD ({engine})")
    X, Ys, truth = genotype_cca_data(cfg.n_samples, cfg.n_snps, cfg.n_rois, correlations=cfg.correlations,
                                     random_state=cfg.random_state)
    snps = truth["snps"]
    K = len(Ys)
    tasks = list(_MODALITIES[:K]) if K <= len(_MODALITIES) else [f"task{k + 1}" for k in range(K)]
    x_truth = truth["x_support"].any(axis=1)
    y_truth = np.column_stack(truth["y_support"])
    progress.advance()

    rows, auc_rows, roc_x, roc_y, fitted = [], [], {}, {}, {}
    for name, (model, grid) in _cca_models(cfg).items():
        progress.step(f"CCA: nested CV of {name}")
        uses_x, uses_y = _accepts_graphs(model)
        prior = _ld_prior(snps) if (uses_x or uses_y) and not getattr(model, "_uses_groups", False) else "correlation"
        t0 = time.perf_counter()
        res = nested_cv(model, X, Ys, grid, outer_cv=cfg.outer_cv, inner_cv=cfg.inner_cv, prior=prior,
                        random_state=cfg.random_state, n_jobs=cfg.n_jobs)
        elapsed = time.perf_counter() - t0
        table = res.table.copy()
        table.insert(0, "method", name)
        table["task"] = _task_names(table["task"], tasks)
        rows.append(table)
        U, V = res.mean_weights()
        x_mask = x_truth[:, None] if U.shape[1] == 1 else np.repeat(x_truth[:, None], U.shape[1], 1)
        auc_x = feature_selection_auc(U, x_mask)
        v_stack = np.column_stack([np.asarray(v).ravel() for v in V])
        auc_y = feature_selection_auc(v_stack, y_truth)
        chosen = "; ".join(", ".join(f"{k}={v:g}" for k, v in bp.items()) for bp in res.best_params)
        auc_rows.append({"method": name, "auc_snp": auc_x, "auc_roi": auc_y, "tuned": next(iter(grid)),
                         "chosen_per_fold": chosen, "nested_cv_seconds": elapsed})
        roc_x[name] = roc_points(U, x_mask)
        roc_y[name] = roc_points(v_stack, y_truth)
        fitted[name] = (U, V, res)
        progress.advance()

    cv_table = pd.concat(rows, ignore_index=True)
    write_table(cv_table, out / "cca_nested_cv.csv", index=False)
    summary = (cv_table.groupby(["method", "task"], sort=False)[["train_ccc", "test_ccc"]]
               .agg(["mean", "std"]).round(4))
    summary.columns = [f"{a}_{b}" for a, b in summary.columns]
    summary = summary.reset_index()
    auc_table = pd.DataFrame(auc_rows)
    write_table(summary, out / "cca_summary.csv", index=False)
    write_table(auc_table, out / "cca_feature_selection_auc.csv", index=False)

    rep.section("Multi-task sparse CCA")
    rep.text(
        f"Simulated cohort: {cfg.n_samples} people, {cfg.n_snps} SNPs with realistic linkage disequilibrium "
        f"({engine}), {K} imaging modalities of {cfg.n_rois} regions, population canonical correlations "
        f"{', '.join(str(c) for c in cfg.correlations)}. MTS2CCA against MTSCCA, MTGSCCA, JCB-SCCA, SCCA and TCCA "
        f"under nested {cfg.outer_cv}-fold cross-validation; each model's main penalty is chosen from "
        f"{{{', '.join(f'{g:g}' for g in cfg.grid)}}} by inner {cfg.inner_cv}-fold CV (the other penalties at "
        f"their defaults; at most {cfg.cca_max_iter} iterations, tolerance {cfg.cca_tol:g}). Prior networks "
        "(LD for SNPs, corr² for regions) are built from the training rows of every split."
    )
    rep.table(summary, caption="Training and held-out canonical correlation per method and task (mean, SD over outer folds)")
    rep.figure(figs.ccc_bars(cv_table), caption="Canonical correlations by method and task; error bars are SD over outer folds.")
    rep.table(auc_table, caption="Feature-selection AUC of fold-averaged weights against the planted supports, "
                                 "the tuned penalty and its value chosen in each outer fold")
    rep.figure(figs.roc_curves(roc_x, title="SNP selection ROC (row norms of U)"), caption="ROC of SNP selection per method.")
    rep.figure(figs.roc_curves(roc_y, title="Region selection ROC (row norms of V)"),
               caption="ROC of brain-region selection per method.")

    U, V, res = fitted["MTS2CCA"]
    rep.section("MTS2CCA in detail", level=3)
    rep.figure(figs.weight_heatmap(U, column_labels=tasks, title="MTS2CCA SNP weights U"),
               caption="SNP weights (largest rows) per task, fold-averaged after sign alignment.")
    rep.figure(figs.weight_heatmap(np.column_stack(V), row_label="region", column_labels=tasks,
                                   title="MTS2CCA region weights V"), caption="Region weights per modality.")
    rep.figure(figs.manhattan(U, snps["chrom"], snps["pos"], highlight=x_truth, ylabel="max |u| over tasks"),
               caption="SNP weights along the genome; circles mark the planted causal SNPs.")
    rep.figure(figs.region_weight_bars(np.column_stack(V), [f"ROI{j + 1}" for j in range(cfg.n_rois)],
                                       modality_labels=tasks), caption="Largest region weights per modality.")

    progress.step("CCA: MTS2CCA parameter sensitivity")
    model, _ = _cca_models(cfg)["MTS2CCA"]
    sens = sensitivity(model, X, Ys, ["sparsity_x", "sparsity_y"], values=list(cfg.sensitivity_values),
                       cv=cfg.sensitivity_cv, prior=_ld_prior(snps), random_state=cfg.random_state, n_jobs=cfg.n_jobs)
    sens["task"] = _task_names(sens["task"], tasks)
    write_table(sens, out / "cca_sensitivity.csv", index=False)
    lo, hi = min(cfg.sensitivity_values), max(cfg.sensitivity_values)
    rep.figure(figs.sensitivity_curves(sens, title=f"MTS2CCA sensitivity (held-out CCC, {cfg.sensitivity_cv}-fold CV)"),
               caption=f"Held-out canonical correlation as one penalty varies from {lo:g} to {hi:g}, the other fixed.")
    progress.advance()

    progress.step("CCA: permutation test")
    best = res.best_params[0] if res.best_params else {}
    perm = permutation_test(model.set_params(**best), X, Ys, n_permutations=cfg.n_permutations, statistic="insample",
                            prior=_ld_prior(snps), random_state=cfg.random_state, n_jobs=cfg.n_jobs)
    perm = perm.copy()
    if "task" in perm.columns:
        perm["task"] = _task_names(perm["task"], tasks)
    write_table(perm, out / "cca_permutation.csv", index=False)
    rep.table(perm, caption=f"MTS2CCA permutation p-values ({cfg.n_permutations} permutations of the imaging rows, "
                            "refitting each time; p = (count + 1) / (B + 1))")
    progress.advance()

    progress.step("CCA: objective traces")
    traces = {}
    for name in ("MTS2CCA", "MTSCCA", "JCBSCCA"):
        m, _ = _cca_models(cfg)[name]
        uses_x, uses_y = _accepts_graphs(m)
        kw = _ld_prior(snps)(X, Ys) if (uses_x or uses_y) else {}
        traces[name] = m.fit(X, Ys, **kw).objective_
    rep.figure(figs.objective_traces(traces, title="Objective per iteration (all samples)", log=True),
               caption="Each model's reweighted objective never increases; values of different models are not comparable.")
    progress.advance()

    results["cca"] = {
        "genotypes": engine,
        "summary": summary.to_dict(orient="records"),
        "feature_selection_auc": auc_table.to_dict(orient="records"),
        "permutation": perm.to_dict(orient="records"),
        "n_samples": cfg.n_samples, "n_snps": cfg.n_snps, "n_rois": cfg.n_rois,
        "correlations": list(cfg.correlations),
    }


def _nmf_study(cfg: DemoConfig, out: Path, rep: Report, results: dict, progress: _Progress) -> dict:
    from ..biology import top_pairs
    from ..inference import extract_modules, module_significance, overlap_rate, reconstruction_correlation
    from ..inference.modules import best_match_jaccard
    from ..nmf import JCBSNMF, JNMF, JSNMNMF
    from ..simulate import joint_nmf_data

    progress.step("NMF: simulating sMRI, SNP and expression data")
    Xs, truth = joint_nmf_data(cfg.nmf_samples, n_features=cfg.nmf_features, n_components=cfg.nmf_components,
                               noise_level=cfg.nmf_noise, random_state=cfg.random_state)
    scaled = [X / max(np.linalg.norm(X), 1e-12) for X in Xs]
    progress.advance()

    models = {
        "JCB-SNMF": JCBSNMF(n_components=cfg.nmf_components, cross_strength=1e-3, smoothness=1e-4, basis_penalty=0.1,
                            sparsity=1e-3, n_restarts=cfg.nmf_restarts, max_iter=cfg.nmf_iter, random_state=cfg.random_state),
        "JSNMNMF": JSNMNMF(n_components=cfg.nmf_components, cross_strength=1e-3, basis_penalty=0.1, sparsity=1e-3,
                           n_restarts=cfg.nmf_restarts, max_iter=cfg.nmf_iter, random_state=cfg.random_state),
        "JNMF": JNMF(n_components=cfg.nmf_components, n_restarts=cfg.nmf_restarts, max_iter=cfg.nmf_iter,
                     random_state=cfg.random_state),
    }
    rows, traces, fitted = [], {}, {}
    for name, model in models.items():
        progress.step(f"NMF: fitting {name}")
        t0 = time.perf_counter()
        # each model gets the prior information its objective has a term for
        kw = {"cross_adjacency": truth["cross_adjacency"], "graphs": truth["graphs"]}
        if name == "JSNMNMF":
            kw.pop("graphs")
        elif name == "JNMF":
            kw = {}
        model.fit(scaled, **kw)
        seconds = time.perf_counter() - t0
        modules = extract_modules(model, threshold=2.0)
        jac = best_match_jaccard(modules, truth["modules"])
        rc = reconstruction_correlation(model, scaled)
        rows.append({"model": name, "reconstruction_error": float(model.reconstruction_err_),
                     "final_objective": float(model.objective_[-1]), "iterations": int(model.n_iter_),
                     "planted_module_jaccard": float(np.mean(jac)),
                     **{f"reconstruction_r_{m}": float(r) for m, r in zip(_NMF_NAMES, np.ravel(rc))},
                     "seconds": seconds})
        traces[name] = model.objective_
        fitted[name] = (model, modules)
        progress.advance()
    comparison = pd.DataFrame(rows)
    write_table(comparison, out / "nmf_comparison.csv", index=False)

    model, modules = fitted["JCB-SNMF"]
    progress.step("NMF: module significance")
    sig_rows = []
    for i, module in enumerate(modules):
        sizes = [len(m) for m in module]
        p = module_significance(module, scaled, n_permutations=cfg.module_permutations,
                                random_state=cfg.random_state + i)
        sig_rows.append({"module": i + 1, **{f"n_{m}": s for m, s in zip(_NMF_NAMES, sizes)}, "p_value": float(p)})
    sig = pd.DataFrame(sig_rows)
    from ..biology import benjamini_hochberg

    sig["fdr"] = benjamini_hochberg(sig["p_value"].to_numpy())
    write_table(sig, out / "nmf_modules.csv", index=False)
    overlap = np.array([[overlap_rate(a, b) for b in modules] for a in modules])
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
    best_k = int(sig.sort_values(["p_value", "module"]).iloc[0]["module"]) - 1
    mod = modules[best_k]
    labels = [_nmf_labels(name, X.shape[1]) for name, X in zip(_NMF_NAMES, Xs)]
    pair_kw = {"top": 10}
    snp_roi = top_pairs(Xs[1], Xs[0], mod[1], mod[0], names=("snp", "roi"), labels_a=labels[1], labels_b=labels[0], **pair_kw)
    gene_roi = top_pairs(Xs[2], Xs[0], mod[2], mod[0], names=("gene", "roi"), labels_a=labels[2], labels_b=labels[0], **pair_kw)
    write_table(snp_roi, out / "nmf_top_snp_roi_pairs.csv", index=False)
    write_table(gene_roi, out / "nmf_top_gene_roi_pairs.csv", index=False)

    rep.section("Joint graph-regularised NMF")
    rep.text(
        f"Simulated data (JCB-SNMF design): {cfg.nmf_samples} people; sMRI, SNP and gene-expression matrices of "
        f"{', '.join(str(p) for p in cfg.nmf_features)} features sharing {cfg.nmf_components} planted co-modules, "
        f"noise level {cfg.nmf_noise}; within- and cross-modality prior graphs. Best of {cfg.nmf_restarts} restarts, "
        f"at most {cfg.nmf_iter} iterations each."
    )
    rep.table(comparison, caption="JCB-SNMF against JSNMNMF and JNMF (same data, same restarts); Jaccard = mean best match "
                                  "of found co-modules to the planted ones.")
    rep.figure(figs.objective_traces(traces, title="Objective of the best restart", log=True),
               caption="Objective per iteration; it never increases (objectives of different models are not comparable).")
    rep.table(sig, caption=f"JCB-SNMF co-modules (z-score > 2): sizes and permutation p-values "
                           f"({cfg.module_permutations} permutations), BH-adjusted.")
    rep.figure(figs.module_membership_heatmap(memberships), caption="Membership of each feature in each co-module.")
    off_diagonal = overlap[~np.eye(len(modules), dtype=bool)]
    if off_diagonal.size:
        rep.text(f"Mean pairwise overlap rate between co-modules: {np.mean(off_diagonal):.3f}.")

    rep.section(f"Module {best_k + 1}: strongest SNP–ROI and gene–ROI pairs", level=3)
    rep.text(f"The most significant co-module has {len(mod[0])} regions, {len(mod[1])} SNPs and {len(mod[2])} genes. "
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
        "modules": sig.to_dict(orient="records"),
        "best_module": best_k + 1,
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
    rep.table(de.sort_values("p").head(15), caption="Top differentially expressed genes (moderated t)")
    rep.table(roc, caption="Top genes as diagnostic markers: ROC AUC with DeLong 95% CI and p-value (the paper's Table 4)")
    rep.figure(roc_figure, caption="ROC curves of the top genes for AD vs HC (the paper's Fig. 11).")
    rep.text(f"Gene-set over-representation (hypergeometric, BH over the sets, background = the {g} genes analysed) "
             f"against a local GMT file of {len(gene_sets)} sets: the planted diagnosis genes, the genes of each "
             "planted co-module and random sets.")
    if len(enr):
        rep.table(enr.head(10), caption="Enrichment of the screened genes (p < 0.01)")
    if len(enr_module):
        rep.table(enr_module.head(10), caption=f"Enrichment of co-module {best + 1}'s {len(module_genes)} genes")
    results["biology"] = {
        "n_planted_genes": len(planted),
        "screening": power.to_dict(orient="records"),
        "n_selected_genes": len(selected),
        "n_planted_recovered": len(set(selected) & planted_names),
        "top_markers": roc.to_dict(orient="records"),
        "enrichment_screened": enr.head(5).to_dict(orient="records") if len(enr) else [],
        "enrichment_module": enr_module.head(5).to_dict(orient="records") if len(enr_module) else [],
    }


def run_demo(out: str | Path, config: DemoConfig | None = None, *, quiet: bool = False) -> Path:
    """Run both studies on simulated data and write the report folder.

    Parameters
    ----------
    out : path
        Folder for ``report.html``, ``results.json``, CSV tables and PNG figures.
    config : DemoConfig, optional
        Sizes and seeds (defaults: about a minute and a half on 2 idle cores).
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
    progress = _Progress(total=10 + 5 + 3, quiet=quiet)
    # The matrices are small: one BLAS thread per process is much faster than
    # threads competing for the same cores, and it leaves cores to the joblib workers.
    with threadpool_limits(limits=1), warnings.catch_warnings():
        # Fits are capped at cfg.cca_max_iter on purpose; the report says so.
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
