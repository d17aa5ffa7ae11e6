"""``imaging-genetics run study.yaml``: a real study from one YAML file.

The YAML (see :mod:`imaging_genetics.io.study`) declares the inputs (PLINK
genotypes, tables of ROI measures and expression, covariates, outcomes, prior
graphs) and, under ``analyses``, what to run::

    preprocessing:
      genotype_qc: {maf: 0.05, hwe_p: 1.0e-6, call_rate: 0.9}
      impute: true
      residualize: true          # regress the covariates out of every modality
    analyses:
      cca:
        genotype: snp
        imaging: [fmri, smri]
        models: [MTS2CCA, SCCA]
        param_grid: {sparsity_x: [0.05, 0.3], sparsity_y: [0.05, 0.3]}
        outer_cv: 5
        inner_cv: 3
        permutations: 99
      nmf:
        modalities: [smri, snp, gene]
        models: [JCBSNMF]
        n_components: 10
        permutations: 99

Prior networks follow each modality's ``graph`` (an edge list, ``ld`` or
``correlation``); rules are evaluated on the training rows of every split.
Graphs and cross adjacencies are restricted to the features preprocessing kept.
With ``outcomes``, each CCA model's canonical variates predict every outcome column
by cross-validated ridge regression (:func:`imaging_genetics.inference.predict_outcome`,
``outer_cv`` folds); samples without a value of an outcome are left out of its
prediction.
The output folder gets the same kind of report as the demo.

Keys of ``params`` / ``param_grid`` that no listed model has are rejected when the
YAML is read; every model's settings (each grid point, NMF ``n_components``
against the preprocessed data) are checked before the first fit. With a
``param_grid``, the CCA model fitted on all samples uses the parameter set that
the inner grid search chose in most outer folds (ties: the best mean inner-CV
score, then the earliest fold); ``results.json`` records the rule and the choice
under ``cca.final_params``. Non-finite numbers are written to it as ``null``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .._validation import _describe_columns
from ..base import write_json
from ..io import load_study
from ..io.study import read_study_spec
from ..io.writers import write_table
from ..report import Report, figures as figs
from ._progress import Progress

__all__ = ["run_study"]

log = logging.getLogger(__name__)


def _preprocess(views, spec) -> dict[str, pd.DataFrame]:
    from ..preprocessing import CovariateResidualizer, GenotypeQC, MeanImputer

    if spec.residualize and views.covariates is not None:
        _check_covariates(views.covariates)
    data: dict[str, pd.DataFrame] = {}
    for name in views.names:
        frame = views[name]
        if views.kind(name) == "genotype" and spec.genotype_qc is not None:
            qc = spec.genotype_qc
            frame = GenotypeQC(min_maf=qc.maf, hwe_pvalue=qc.hwe_p, min_call_rate=qc.call_rate).fit_transform(frame)
            log.info("run: %s: %d of %d SNPs pass QC", name, frame.shape[1], views[name].shape[1])
        if spec.impute and frame.isna().to_numpy().any():
            frame = MeanImputer().fit_transform(frame)
        if spec.residualize and views.covariates is not None:
            frame = CovariateResidualizer().fit(frame, views.covariates).transform(frame, views.covariates)
        data[name] = frame
    constant = _constant_features(data)
    if constant:
        log.warning("run: %s", _constant_text(constant))
    if views.covariates is not None and not spec.residualize:
        log.warning("run: the covariates are read but not used; set 'residualize: true' under preprocessing "
                    "to regress them out of every modality")
    return data


def _check_covariates(covariates: pd.DataFrame) -> None:
    """Covariates are regressed out as given: a missing value is an input error naming
    the column and the samples."""
    missing = covariates.isna()
    if missing.to_numpy().any():
        cols = [str(c) for c in covariates.columns[missing.any(axis=0).to_numpy()]]
        rows = [str(r) for r in covariates.index[missing.any(axis=1).to_numpy()]]
        raise ValueError(f"covariates: {int(missing.to_numpy().sum())} missing value(s) in column(s) "
                         f"{', '.join(cols[:5])} (sample(s) {', '.join(rows[:5])}{' ...' if len(rows) > 5 else ''}); "
                         "covariates are not imputed: fill them in the covariates file, or remove those samples")


def check_outcomes(outcomes: pd.DataFrame, folds: int) -> None:
    """Every outcome column has a value for at least two samples per cross-validation fold,
    so its prediction can be trained and tested (checked before the first fit)."""
    for col in outcomes.columns:
        n = int(np.isfinite(outcomes[col].to_numpy(dtype=float)).sum())
        if n < 2 * folds:
            raise ValueError(f"outcomes: column {col!r} has a value for {n} sample(s); predicting it under "
                             f"{folds}-fold cross-validation needs at least {2 * folds}")


def check_complete(data: dict[str, pd.DataFrame], names: list[str]) -> None:
    """Raise ValueError naming each modality of ``names`` (and its columns) that still
    holds missing values after preprocessing, with the study-file fix."""
    bad = []
    for name in names:
        missing = data[name].isna().to_numpy()
        if missing.any():
            cols = _describe_columns(missing.any(axis=0), [str(c) for c in data[name].columns])
            bad.append(f"{name}: {int(missing.sum())} in column(s) {cols}")
    if bad:
        raise ValueError("missing values remain after preprocessing (" + "; ".join(bad) + "); set "
                         "'impute: true' in the study's preprocessing section, or fill them in the input files")


def _constant_features(data: dict[str, pd.DataFrame]) -> dict[str, list[str]]:
    """Per modality, the names of the features with one value on every sample (after
    preprocessing); modalities without any are left out."""
    out = {}
    for name, frame in data.items():
        # column extremes without a copy of the table; an all-NaN column compares NaN, not equal
        flat = (frame.max(axis=0) == frame.min(axis=0)).to_numpy(dtype=bool)
        if flat.any():
            out[name] = [str(c) for c in frame.columns[flat]]
    return out


def _constant_text(constant: dict[str, list[str]]) -> str:
    listed = "; ".join(f"{name}: {_describe_columns(np.ones(len(cols), dtype=bool), cols)}"
                       for name, cols in constant.items())
    return (f"features with the same value on every sample carry no information and get zero weight "
            f"in every CCA model: {listed}.")


def _preprocessing_text(spec, views, data) -> str:
    """What preprocessing did, with the QC counts, in words."""
    parts = []
    qc = spec.genotype_qc
    for name in data:
        if views.kind(name) == "genotype":
            kept, total = data[name].shape[1], views[name].shape[1]
            if qc is not None:
                parts.append(f"Genotype QC of {name} (minor allele frequency ≥ {qc.maf:g}, Hardy–Weinberg p ≥ "
                             f"{qc.hwe_p:g}, call rate ≥ {qc.call_rate:g}): {kept} of {total} SNPs kept, "
                             f"{total - kept} removed.")
            else:
                parts.append(f"No genotype QC: all {total} SNPs of {name} used.")
    missing = {name: int(views[name].isna().to_numpy().sum()) for name in data}
    n_missing = sum(missing.values())
    if spec.impute:
        parts.append(f"Missing values replaced by the feature mean: {n_missing} in all"
                     + (f" ({', '.join(f'{n}: {m}' for n, m in missing.items() if m)})." if n_missing else "."))
    else:
        parts.append(f"No imputation ({n_missing} missing values).")
    if spec.residualize and views.covariates is not None:
        parts.append(f"Covariates regressed out of every modality: {', '.join(map(str, views.covariates.columns))}.")
    elif views.covariates is not None:
        parts.append("No covariate adjustment (covariates were given, but residualize is false).")
    else:
        parts.append("No covariate adjustment.")
    constant = _constant_features(data)
    if constant:
        text = _constant_text(constant)
        parts.append(text[0].upper() + text[1:])
    return " ".join(parts)


def preprocessed_study(study_yaml: str | Path):
    """The study's modalities after its ``preprocessing`` section (genotype QC,
    imputation, covariate residualisation), as ``run`` analyses them.

    Returns ``(spec, views, data)``: the validated study file, the loaded
    :class:`~imaging_genetics.Views` and a dict modality -> preprocessed DataFrame.
    """
    spec = read_study_spec(study_yaml)
    views = load_study(study_yaml)
    return spec, views, _preprocess(views, spec.preprocessing)


def _cca_prior(views, data, genotype: str, imaging: list[str]):
    """A prior callable building every graph from the training rows of a split
    (edge-list graphs do not depend on the rows: restricted to the kept features once)."""
    from ..networks import correlation_graph, ld_graph

    snp_names = [str(c) for c in data[genotype].columns]
    info = views.feature_info(genotype)
    positions = None
    if info is not None and {"chrom", "pos"} <= set(info.columns):
        positions = info.set_index("snp").loc[snp_names].reset_index() if "snp" in info.columns else None
    rules = {}
    for name in (genotype, *imaging):
        rule = views.graphs.get(name, "correlation")
        keep = _kept_features(views, data, name)
        if rule is not None and not isinstance(rule, str) and keep is not None:
            rule = rule[keep][:, keep]
        rules[name] = rule

    def graph_for(name, Z):
        rule = rules[name]
        if rule is None or not isinstance(rule, str):
            return rule
        if rule == "ld":
            return ld_graph(Z, positions=positions)
        return correlation_graph(Z)

    def prior(X_train, Ys_train):
        kw = {}
        x_graph = graph_for(genotype, X_train)
        if x_graph is not None:
            kw["x_adjacency"] = x_graph
        y_graphs = [graph_for(n, Y) for n, Y in zip(imaging, Ys_train)]
        if all(g is not None for g in y_graphs):
            kw["y_adjacency"] = y_graphs
        return kw

    return prior


def _cca_model(name: str, spec, random_state: int):
    """A CCA model with the study's ``params`` (those it has) and its part of ``param_grid``."""
    from .. import cca as cca_models

    model = getattr(cca_models, name)(random_state=random_state)
    valid = set(model.get_params())
    # keys that another listed model has, but this one lacks, apply to the others only
    # (keys of no listed model were rejected when the study file was read)
    model.set_params(**{k: v for k, v in spec.params.items() if k in valid})
    grid = {k: v for k, v in (spec.param_grid or {}).items() if k in valid}
    return model, grid


#: how the all-sample CCA model's parameters are chosen from nested CV (documented in the report)
FINAL_PARAMS_RULE = ("the parameter set chosen most often by the inner grid search across the outer folds; "
                     "ties go to the best mean inner-CV score of the grid point over all outer folds, "
                     "then to the set chosen in the earliest outer fold")


def _final_params(res) -> dict[str, Any]:
    """The parameters of the all-sample fit after nested CV (rule: :data:`FINAL_PARAMS_RULE`).

    Grid points are told apart by their position in the grid (``res.best_index``,
    the ``grid_index`` of the inner table), not by comparing parameter values.
    Returns ``{"params", "votes", "n_folds", "mean_inner_score"}``.
    """
    chosen = list(res.best_index)
    inner = res.inner_table

    def mean_inner(g: int) -> float:
        scores = inner.loc[inner["grid_index"] == g, "score"].to_numpy(dtype=float) if len(inner) else np.array([])
        return float(np.nanmean(scores)) if np.isfinite(scores).any() else float("nan")

    candidates = []
    for first, g in enumerate(chosen):
        if g in chosen[:first]:
            continue
        score = mean_inner(g)
        candidates.append((-chosen.count(g), -(score if math.isfinite(score) else -np.inf), first))
    votes, neg_score, first = min(candidates)
    score = -neg_score
    return {"params": dict(res.best_params[first]), "votes": -votes, "n_folds": len(chosen),
            "mean_inner_score": score if math.isfinite(score) else None}


#: folds of the held-out statistic of the CCA permutation test
_PERMUTATION_CV = 5


def _cca_design_text(spec) -> str:
    """How the study's CCA models are tuned and evaluated, in words."""
    params = f" Settings of every fit: {_plain(spec.params)}." if spec.params else ""
    if spec.param_grid:
        grid = "; ".join(f"{k} in {{{', '.join(_plain(v) for v in values)}}}" for k, values in spec.param_grid.items())
        how = (f"Nested cross-validation: {spec.outer_cv} outer folds give the training and held-out canonical "
               f"correlations; inside each outer training set, {spec.inner_cv}-fold CV chooses the parameters from the "
               f"grid {grid} (the point with the best mean held-out correlation over the tasks).")
    else:
        how = f"{spec.outer_cv}-fold cross-validation with the parameters as given (no param_grid)."
    perm = (f" Permutation test: {spec.permutations} permutations." if spec.permutations
            else " No permutation test (permutations: 0).")
    return how + params + perm + " Held-out correlations are signed."


def _plain(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _nmf_design_text(spec, names: list[str]) -> str:
    """The study's NMF settings and module rule, in words."""
    from ..inference.modules import module_thresholds

    thresholds = module_thresholds(spec.module_threshold, spec.module_rule, len(names), spec.module_orientation)
    if len({str(t) for t in thresholds}) == 1:
        T = _plain(thresholds[0])
    else:
        T = "(" + ", ".join(f"{n}: {_plain(t)}" for n, t in zip(names, thresholds)) + ")"
    along = f"along the {spec.module_orientation}s of H_I"
    rule = {"zscore": f"its z-score ({along}) exceeds {T}",
            "mad": f"its robust z-score (median and MAD, {along}) exceeds {T}",
            "otsu": f"its weight exceeds Otsu's threshold ({along})",
            "topk": f"it is among the {T} largest weights ({along})"}[spec.module_rule]
    params = f"; {_plain(spec.params)}" if spec.params else ""
    perm = (f"Module p-values: {spec.permutations} permutations of the samples (smallest attainable p = "
            f"1/{spec.permutations + 1} = {1 / (spec.permutations + 1):.3g}), BH-adjusted over each model's modules."
            if spec.permutations else "No module p-values (permutations: 0).")
    return (f"{spec.n_components} components, best of {spec.n_restarts} restarts{params}. A feature of modality I "
            f"joins module i when {rule} (module_rule: {spec.module_rule}). {perm}")


def _module_p_value(module, Xs, permutations: int, seed: int) -> tuple[float, str | None]:
    """Permutation p-value of a co-module, or NaN and the reason shown in the report."""
    from ..inference import module_significance

    if not permutations:
        return float("nan"), "not tested (permutations: 0)"
    if sum(len(m) > 0 for m in module) < 2:
        return float("nan"), "n/a (members in fewer than two modalities)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant members: NaN, said in the report
        p = module_significance(module, Xs, n_permutations=permutations, random_state=seed)
    return p, (None if np.isfinite(p) else "n/a (non-constant members in fewer than two modalities)")


def _run_cca(views, data, spec, out: Path, rep: Report, results: dict, n_jobs: int, random_state: int,
             progress: Progress) -> None:
    from ..inference import cross_validate_cca, nested_cv, permutation_test
    from ..inference.cv import prior_fit_params

    X = data[spec.genotype]
    Ys = [data[n] for n in spec.imaging]
    snp_names = [str(c) for c in X.columns]
    prior = _cca_prior(views, data, spec.genotype, spec.imaging)
    rep.section("Multi-task sparse CCA")
    rep.text(f"{X.shape[0]} samples; {X.shape[1]} SNPs ({spec.genotype}) against {', '.join(spec.imaging)}.")
    rep.text(_cca_design_text(spec))
    summaries, traces, notes, final, predictions = [], {}, {}, {}, []
    for name in spec.models:
        progress.step(f"CCA: {name}")
        model, grid = _cca_model(name, spec, random_state)
        if grid:
            res = nested_cv(model, X, Ys, grid, outer_cv=spec.outer_cv, inner_cv=spec.inner_cv, prior=prior,
                            random_state=random_state, n_jobs=n_jobs)
            table = res.table
            choice = _final_params(res)
            model.set_params(**choice["params"])
            final[name] = {"rule": FINAL_PARAMS_RULE, **choice}
            rep.text(f"{name}: the fit on all samples uses {choice['params']}, chosen in {choice['votes']} of "
                     f"{choice['n_folds']} outer folds (rule: {FINAL_PARAMS_RULE}).")
        else:
            given = model.get_params()
            final[name] = {"rule": "no param_grid: the model's params as given",
                           "params": {k: given[k] for k in spec.params if k in given},
                           "votes": None, "n_folds": None, "mean_inner_score": None}
            table = cross_validate_cca(model, X, Ys, cv=spec.outer_cv, prior=prior, random_state=random_state, n_jobs=n_jobs)
            table = getattr(table, "table", table)
        table = table.copy()
        table.insert(0, "method", name)
        table["task"] = [spec.imaging[int(t)] if str(t).isdigit() else t for t in table["task"]]
        write_table(table, out / f"cca_{name}_cv.csv", index=False)
        summaries.append(table)
        fitted = model.fit(X, Ys, **prior_fit_params(model, X.to_numpy(), [Y.to_numpy() for Y in Ys], prior))
        fitted.save(out / f"cca_{name}_model.npz")
        U = fitted.x_weights_
        columns = spec.imaging if U.shape[1] == len(spec.imaging) else [f"component{k + 1}" for k in range(U.shape[1])]
        write_table(pd.DataFrame(U, index=pd.Index(snp_names, name="snp"), columns=columns), out / f"cca_{name}_snp_weights.csv")
        for n, v in zip(spec.imaging, fitted.y_weights_):
            write_table(pd.DataFrame({"weight": np.ravel(v)}, index=pd.Index(views.feature_names(n) if len(np.ravel(v)) == data[n].shape[1] else range(len(np.ravel(v))), name="feature")),
                        out / f"cca_{name}_{n}_weights.csv")
        info = views.feature_info(spec.genotype)
        if info is not None and {"chrom", "pos", "snp"} <= set(info.columns):
            pos = info.set_index("snp").loc[snp_names]
            rep.figure(figs.manhattan(U, pos["chrom"], pos["pos"]), caption=f"{name}: SNP weights along the genome.")
        rep.figure(figs.weight_heatmap(U, column_labels=columns, title=f"{name} SNP weights"), caption=f"{name}: SNP weights.")
        V = [np.ravel(v) for v in fitted.y_weights_]
        if len({v.size for v in V}) == 1:
            region_names = views.feature_names(spec.imaging[0]) if V[0].size == data[spec.imaging[0]].shape[1] else None
            rep.figure(figs.weight_heatmap(np.column_stack(V), row_label="region", column_labels=list(spec.imaging),
                                           title=f"{name} region weights"), caption=f"{name}: region weights per modality.")
            rep.figure(figs.region_weight_bars(np.column_stack(V), region_names or [f"region{j + 1}" for j in range(V[0].size)],
                                               modality_labels=list(spec.imaging), title=f"{name}: largest region weights"),
                       caption=f"{name}: largest region weights per modality.")
        if views.outcomes is not None:
            predictions.extend({"method": name, **row} for row, _, _ in outcome_predictions(
                model, X, Ys, views.outcomes, features="variates", cv=spec.outer_cv, prior=prior,
                random_state=random_state, n_jobs=n_jobs))
        traces[name] = fitted.objective_
        notes[name] = (f"converged at iteration {fitted.n_iter_}" if fitted.n_iter_ < fitted.max_iter
                       else f"stopped at max_iter {fitted.max_iter}")
        if spec.permutations:
            perm = permutation_test(model, X, Ys, n_permutations=spec.permutations, statistic="heldout",
                                    cv=_PERMUTATION_CV, prior=prior, random_state=random_state, n_jobs=n_jobs)
            write_table(perm, out / f"cca_{name}_permutation.csv", index=False)
            rep.table(perm, caption=f"{name}: permutation p-values ({spec.permutations} permutations of the imaging "
                                    "rows, refitting each time; statistic = mean held-out canonical correlation over "
                                    f"{_PERMUTATION_CV}-fold CV; smallest attainable p = 1/{spec.permutations + 1} = "
                                    f"{1 / (spec.permutations + 1):.3g})")
        progress.advance()
    cv_all = pd.concat(summaries, ignore_index=True)
    summary = cv_all.groupby(["method", "task"], sort=False)[["train_ccc", "test_ccc"]].agg(["mean", "std"]).round(4)
    summary.columns = [f"{a}_{b}" for a, b in summary.columns]
    summary = summary.reset_index()
    rep.table(summary, caption="Canonical correlations per method and task (mean, SD over outer folds)")
    rep.figure(figs.ccc_bars(cv_all), caption="Training and held-out canonical correlations.")
    rep.figure(figs.objective_traces(traces, panels=True, notes=notes),
               caption="Objective per iteration of each model's fit on all samples, one panel per model with its own "
                       "value axis (the reweighted algorithm lowers a surrogate of the objective at every block update; "
                       "the objective itself can rise slightly near the end).")
    results["cca"] = {"summary": summary.to_dict(orient="records"), "final_params": final}
    if predictions:
        pred = pd.DataFrame(predictions)
        write_table(pred, out / "cca_outcome_prediction.csv", index=False)
        rep.table(pred.round(4), caption=(
            f"Prediction of the outcomes from each model's canonical variates (X u_k and Y_k v_k): ridge regression, "
            f"{spec.outer_cv}-fold cross-validation with the CCA model, the variates' scaling and the ridge penalty "
            "fitted on the training rows of every fold; RMSE and Pearson r of the pooled held-out predictions. The "
            "CCA parameters are those of the fit on all samples. outcome_sd is the RMSE of predicting the mean; "
            "samples without a value of an outcome are left out of its prediction."))
        results["cca"]["outcome_prediction"] = pred.to_dict(orient="records")


def outcome_predictions(model, X, Ys, outcomes: pd.DataFrame, **kwargs) -> list[tuple[dict, np.ndarray, Any]]:
    """Cross-validated ridge prediction of every outcome column from ``model``
    (:func:`imaging_genetics.inference.predict_outcome` with ``kwargs``), each on the
    samples that have a value of it. X and the Ys are arrays or tables whose rows are
    those of ``outcomes``. One ``(row, kept, result)`` per outcome: ``row`` holds
    outcome, n_samples, rmse, r and outcome_sd (the RMSE of predicting the mean),
    ``kept`` the boolean mask of the samples used."""
    from ..inference import predict_outcome

    def rows(A, keep):
        return A.loc[keep] if hasattr(A, "loc") else A[keep]

    out = []
    for col in outcomes.columns:
        y = outcomes[col].astype(float)
        keep = np.isfinite(y.to_numpy())
        res = predict_outcome(model, rows(X, keep), [rows(Y, keep) for Y in Ys], y.loc[keep], **kwargs)
        out.append(({"outcome": str(col), "n_samples": int(keep.sum()), "rmse": res.rmse, "r": res.r,
                     "outcome_sd": float(np.std(y.to_numpy()[keep]))}, keep, res))
    return out


def _kept_features(views, data, name: str) -> np.ndarray | None:
    """Positions (in the input file) of the features preprocessing kept, or None when all were."""
    names = views.feature_names(name)
    columns = [str(c) for c in data[name].columns]
    if columns == names:
        return None
    keep = pd.Index(names).get_indexer(columns)
    if (keep < 0).any():  # pragma: no cover - preprocessing only drops columns
        raise ValueError(f"modality {name!r}: features {[c for c, i in zip(columns, keep) if i < 0][:5]} "
                         "are not in its input file")
    return keep


def _nmf_inputs(views, data, spec):
    """Scaled matrices, graphs and cross adjacencies of the NMF modalities, restricted to the kept features."""
    from ..preprocessing import NonnegativeScaler

    names = spec.modalities
    Xs = [NonnegativeScaler().fit_transform(data[n]).to_numpy(dtype=float) if hasattr(data[n], "to_numpy")
          else NonnegativeScaler().fit_transform(data[n]) for n in names]
    kept = {n: _kept_features(views, data, n) for n in names}
    graphs = []
    for n in names:
        g = views.graph(n) if n in views.graphs else None
        if g is not None and kept[n] is not None:
            g = g[kept[n]][:, kept[n]]
        graphs.append(g)
    cross = {}
    for (a, b), A in views.cross_adjacency.items():
        if a in names and b in names:
            # rows are a's features and columns b's, as in the input files: keep those QC kept
            if kept[a] is not None:
                A = A[kept[a]]
            if kept[b] is not None:
                A = A[:, kept[b]]
            i, j = names.index(a), names.index(b)
            cross[(i, j) if i < j else (j, i)] = A if i < j else A.T
    return names, Xs, graphs, cross


def _nmf_model(name: str, spec, random_state: int, n_jobs: int):
    from .. import nmf as nmf_models

    model = getattr(nmf_models, name)(n_components=spec.n_components, n_restarts=spec.n_restarts,
                                      random_state=random_state, n_jobs=n_jobs)
    valid = set(model.get_params())
    model.set_params(**{k: v for k, v in spec.params.items() if k in valid})
    return model


def _check_analyses(views, data, analyses, nmf_inputs, random_state: int, n_jobs: int) -> None:
    """Every model and parameter setting of the study, checked against the data before the first fit.

    CCA: each model with its ``params`` and every point of its ``param_grid``, and
    equal region counts for models that couple regions across modalities. NMF: each
    model's full input check (``n_components`` against the preprocessed sizes,
    penalties, graphs and cross adjacencies). Raises ValueError naming the section.
    """
    from sklearn.model_selection import ParameterGrid

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fits warn again where it matters
        if analyses.cca is not None:
            spec = analyses.cca
            qs = {n: data[n].shape[1] for n in spec.imaging}
            for name in spec.models:
                model, grid = _cca_model(name, spec, random_state)
                if not grid:  # the params as given are those of every fit
                    try:
                        model._validate_params()
                    except (ValueError, TypeError) as exc:
                        raise ValueError(f"analyses.cca.params: {name}: {exc}") from None
                for point in (ParameterGrid(grid) if grid else []):  # each grid point on top of the params
                    trial, _ = _cca_model(name, spec, random_state)
                    try:
                        trial.set_params(**point)._validate_params()
                    except (ValueError, TypeError) as exc:
                        # the message names the parameter at fault: a grid one, or one of params
                        where = "param_grid" if any(k in str(exc) for k in point) else "params"
                        raise ValueError(f"analyses.cca.{where}: {name} with {point}: {exc}") from None
                if model._couples_regions() and len(set(qs.values())) > 1:
                    raise ValueError(f"analyses.cca.models: {name} couples region j across the imaging modalities, "
                                     f"which need the same number of regions; after preprocessing they have {qs}. "
                                     "Use SCCA for unequal region sets")
        if analyses.nmf is not None:
            spec = analyses.nmf
            names, Xs, graphs, cross = nmf_inputs
            for name in spec.models:
                model = _nmf_model(name, spec, random_state, n_jobs)
                try:
                    model._validate(Xs, cross or None, graphs if any(g is not None for g in graphs) else None)
                except (ValueError, TypeError) as exc:
                    sizes = ", ".join(f"{n}: {X.shape[1]}" for n, X in zip(names, Xs))
                    # the model numbers the modalities; the study names them
                    msg = re.sub(r"\b(Xs|graphs)\[(\d+)\]",
                                 lambda m: f"{m.group(0)} ({names[int(m.group(2))]})" if int(m.group(2)) < len(names)
                                 else m.group(0), str(exc))
                    raise ValueError(f"analyses.nmf: {name} (n_components={spec.n_components}, params={spec.params}; "
                                     f"{Xs[0].shape[0]} samples, features after preprocessing {sizes}): {msg}") from None


def _run_nmf(views, data, spec, out: Path, rep: Report, results: dict, n_jobs: int, random_state: int,
             progress: Progress, inputs) -> None:
    from ..biology import benjamini_hochberg
    from ..inference import extract_modules

    names, Xs, graphs, cross = inputs
    rep.section("Joint graph-regularised NMF")
    rep.text(f"{Xs[0].shape[0]} samples; modalities {', '.join(f'{n} ({X.shape[1]})' for n, X in zip(names, Xs))}, "
             "each min–max scaled to [0, 1].")
    rep.text(_nmf_design_text(spec, names))
    rows, notes = [], []
    for name in spec.models:
        progress.step(f"NMF: {name}")
        model = _nmf_model(name, spec, random_state, n_jobs)
        model.fit(Xs, cross_adjacency=cross or None, graphs=graphs if any(g is not None for g in graphs) else None)
        model.save(out / f"nmf_{name}_model.npz")
        modules = extract_modules(model, threshold=spec.module_threshold, method=spec.module_rule,
                                  orientation=spec.module_orientation)
        for k, module in enumerate(modules):
            p, note = _module_p_value(module, Xs, spec.permutations, random_state + k)
            notes.append(note)
            rows.append({"model": name, "module": k + 1,
                         **{f"n_{n}": len(m) for n, m in zip(names, module)}, "p_value": p,
                         **{f"members_{n}": ";".join(str(data[n].columns[j]) for j in m) for n, m in zip(names, module)}})
        memberships = {}
        for I, n in enumerate(names):
            M = np.zeros((Xs[I].shape[1], len(modules)), dtype=bool)
            for k, module in enumerate(modules):
                M[module[I], k] = True
            memberships[n] = M
        rep.figure(figs.module_membership_heatmap(memberships, title=f"{name} co-modules"), caption=f"{name}: co-module membership.")
        every = int(getattr(model, "_check_every", 10))
        iterations = figs.checkpoint_iterations(len(model.objective_), model.n_iter_, every)
        state = (f"converged at iteration {model.n_iter_}" if model.converged_
                 else f"stopped at max_iter {model.max_iter} without converging")
        rep.figure(figs.objective_traces({name: (iterations, model.objective_)}, log=True, panels=True,
                                         notes={name: state}),
                   caption=f"{name}: objective of the best restart against the iteration (recorded at iteration 0 and "
                           f"every {every} iterations; logarithmic axis).")
        _module_pairs(name, modules, [r for r in rows if r["model"] == name], names, Xs, data, out, rep)
        progress.advance()
    table = pd.DataFrame(rows)
    if len(table):
        # Benjamini-Hochberg across the modules of each model (spec §12, item 12); NaN p-values stay NaN
        fdr = table.groupby("model", sort=False)["p_value"].transform(lambda p: benjamini_hochberg(p.to_numpy(dtype=float)))
        table.insert(table.columns.get_loc("p_value") + 1, "fdr", fdr)
    write_table(table, out / "nmf_modules.csv", index=False)
    shown = table[[c for c in table.columns if not c.startswith("members_")]].copy()
    if len(shown):
        # a module without a p-value says why in the report (results.json keeps null)
        for col in ("p_value", "fdr"):
            shown[col] = [note if note and not np.isfinite(v) else v for v, note in zip(shown[col], notes)]
            shown[col] = shown[col].astype(object)
    rep.table(shown, caption="Co-modules, permutation p-values and Benjamini–Hochberg FDR (q-values) over each model's "
                             "modules; the members of each module are in nmf_modules.csv")
    results["nmf"] = {"modules": table.drop(columns=[c for c in table.columns if c.startswith("members_")]).to_dict(orient="records")}


def _module_pairs(model_name, modules, rows, names, Xs, data, out: Path, rep: Report) -> None:
    """Top cross-modality pairs of the most significant module (the JCB-SNMF paper's Table 5, Fig. 12)."""
    from ..biology import pair_heatmap, top_pairs

    if not modules or len(names) < 2:
        return
    # The most significant module among those with members in the first modality and another one.
    usable = [k for k, m in enumerate(modules) if len(m[0]) and any(len(m[I]) for I in range(1, len(names)))]
    if not usable:
        return
    p_values = np.array([rows[k]["p_value"] if k < len(rows) else np.nan for k in usable], dtype=float)
    best = usable[int(np.argmin(np.where(np.isfinite(p_values), p_values, np.inf)))]
    module = modules[best]
    first = names[0]
    for I in range(1, len(names)):
        a, b = names[I], first
        if len(module[I]) == 0 or len(module[0]) == 0:
            continue
        labels_a, labels_b = [str(c) for c in data[a].columns], [str(c) for c in data[b].columns]
        table = top_pairs(Xs[I], Xs[0], module[I], module[0], names=(a, b), top=10, labels_a=labels_a, labels_b=labels_b)
        if not len(table):
            continue
        write_table(table, out / f"nmf_{model_name}_module{best + 1}_{a}_{b}_pairs.csv", index=False)
        rep.figure(pair_heatmap(Xs[I], Xs[0], module[I], module[0], names=(a, b), top=len(table), labels_a=labels_a,
                                labels_b=labels_b, title=f"{model_name} module {best + 1}: {a}–{b} correlations"),
                   caption=f"{model_name}, module {best + 1}: {a}–{b} correlations among the top pairs' features.")
        rep.table(table, caption=f"{model_name}, module {best + 1}: strongest {a}–{b} pairs (FDR over all pairs tested)")


def run_study(study_yaml: str | Path, out: str | Path, *, n_jobs: int = 1, random_state: int = 0,
              quiet: bool = True, blas_threads: int | None = 1) -> Path:
    """Run the analyses a study YAML declares; write tables, models, figures and a report.

    Parameters
    ----------
    study_yaml : path
        The study file; see the module docstring.
    out : path
        Output folder (created).
    n_jobs : int
        Parallel workers for cross-validation, permutations and restarts.
    random_state : int
        Seed of every random choice.
    quiet : bool
        No progress display (the default for calls from Python).
    blas_threads : int or None
        BLAS threads per process during the run. The default 1 suits the many small
        fits of cross-validation and permutations (threads competing for the same
        cores slow them down many times over); None leaves the library default.

    Returns
    -------
    pathlib.Path
        The report file.

    Raises
    ------
    ValueError
        The YAML declares no analyses, or anything :func:`load_study` rejects.
    """
    spec = read_study_spec(study_yaml)
    if spec.analyses is None or (spec.analyses.cca is None and spec.analyses.nmf is None):
        raise ValueError(f"{study_yaml}: no 'analyses' section (cca and/or nmf): nothing to run")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    n_steps = 1 + (len(spec.analyses.cca.models) if spec.analyses.cca is not None else 0) \
        + (len(spec.analyses.nmf.models) if spec.analyses.nmf is not None else 0)
    progress = Progress(total=n_steps, quiet=quiet)
    progress.step("reading and preprocessing the data")
    spec, views, data = preprocessed_study(study_yaml)
    try:
        used = [*(([spec.analyses.cca.genotype, *spec.analyses.cca.imaging]) if spec.analyses.cca is not None else []),
                *(spec.analyses.nmf.modalities if spec.analyses.nmf is not None else [])]
        check_complete(data, list(dict.fromkeys(used)))
        if spec.analyses.cca is not None and views.outcomes is not None:
            check_outcomes(views.outcomes, spec.analyses.cca.outer_cv)
        nmf_inputs = _nmf_inputs(views, data, spec.analyses.nmf) if spec.analyses.nmf is not None else None
        # every analysis's settings, before the first fit writes anything
        _check_analyses(views, data, spec.analyses, nmf_inputs, random_state, n_jobs)
    except ValueError as exc:
        progress.close()
        raise ValueError(f"{study_yaml}: {exc}") from None
    progress.advance()
    rep = Report(f"imaging-genetics study: {Path(study_yaml).name}", figure_dir=out / "figures")
    rep.section("Data")
    alignment = views.alignment_report.reset_index(drop=True)
    if "file" in alignment.columns:  # examples/../data/x.csv -> data/x.csv
        alignment["file"] = [os.path.normpath(str(f)) for f in alignment["file"]]
    rep.table(alignment, caption="Sample alignment across the input files")
    rep.text(_preprocessing_text(spec.preprocessing, views, data))
    rep.table(pd.DataFrame({"modality": list(data), "kind": [views.kind(n) for n in data],
                            "features_after_preprocessing": [d.shape[1] for d in data.values()],
                            "features_in_file": [views[n].shape[1] for n in data]}), caption="Modalities")
    results: dict[str, Any] = {"study": str(study_yaml), "n_samples": views.n_samples}
    limits = threadpool_limits(limits=blas_threads) if blas_threads is not None else contextlib.nullcontext()
    with limits:
        try:
            if spec.analyses.cca is not None:
                _run_cca(views, data, spec.analyses.cca, out, rep, results, n_jobs, random_state, progress)
            if spec.analyses.nmf is not None:
                _run_nmf(views, data, spec.analyses.nmf, out, rep, results, n_jobs, random_state, progress,
                         inputs=nmf_inputs)
        finally:
            progress.close()
    results["step_seconds"] = progress.timings
    results["seconds"] = time.perf_counter() - t0
    results["figures"] = [str(p.relative_to(out)) for p in rep.figure_files]
    write_json(out / "results.json", results)
    return rep.write(out / "report.html")

