"""``imaging-genetics cca``: fit, cross-validate, permutation-test and stability-select
the structured sparse CCA models, and predict clinical scores from them, on simulated
data or on tables from disk.

Data sources (exactly one):

* ``--simulate``: the MTS2CCA simulation design
  (:func:`imaging_genetics.simulate.multitask_cca_data`) with ``--n-samples``,
  ``--n-snps``, ``--n-rois``, ``--correlations``; ground truth gives AUC and
  estimation-accuracy tables;
* ``--x SNP.csv --y IMAGING1.csv [--y IMAGING2.csv ...]``: tables with a sample ID
  column (``--id-column``, default the first column), aligned by ID (inner join);
* ``--study study.yaml``: a study file (:func:`imaging_genetics.io.load_study`); X is
  the genotype modality and the Ys are the imaging modalities unless
  ``--x-modality`` / ``--y-modality`` name them.

Outputs go to ``--out`` as tables (``--format csv`` or ``parquet``) and PNG figures.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd
import typer

app = typer.Typer(
    help="Structured sparse CCA (MTS2CCA and competitors): fit, nested CV, permutation test, stability selection, "
         "clinical-score prediction.",
    no_args_is_help=True,
)


class Model(str, Enum):
    mts2cca = "mts2cca"
    mtscca = "mtscca"
    mtgscca = "mtgscca"
    jcbscca = "jcbscca"
    scca = "scca"
    tcca = "tcca"


class Format(str, Enum):
    csv = "csv"
    parquet = "parquet"


_CLASS = {"mts2cca": "MTS2CCA", "mtscca": "MTSCCA", "mtgscca": "MTGSCCA", "jcbscca": "JCBSCCA",
          "scca": "SCCA", "tcca": "TCCA"}


class Data:
    """Loaded inputs: X (n, p), Ys (K × (n, q_k)), names, optional truth."""

    def __init__(self, X, Ys, x_names, y_names, task_names, truth=None, sample_ids=None, outcomes=None):
        self.X = X
        self.Ys = Ys
        self.x_names = x_names
        self.y_names = y_names
        self.task_names = task_names
        self.truth = truth
        self.sample_ids = sample_ids
        self.outcomes = outcomes  # a study's outcomes (DataFrame, rows = sample_ids)

    @property
    def n_samples(self) -> int:
        """Samples analysed (after the inner join of the tables on their IDs)."""
        return int(self.X.shape[0])


# --------------------------------------------------------------------------- options
def _opt_simulate():
    return typer.Option(False, "--simulate", help="Use simulated data (MTS2CCA design) instead of files.")


_SIM = dict(
    n_samples=typer.Option(200, "--n-samples", help="Simulation: number of subjects n."),
    n_snps=typer.Option(500, "--n-snps", help="Simulation: number of SNPs p."),
    n_rois=typer.Option(90, "--n-rois", help="Simulation: number of brain regions q per modality."),
    correlations=typer.Option("0.8,0.5,0.2", "--correlations", help="Simulation: population CCC per task, comma-separated (K = their number)."),
)


def _parse_floats(text: str, option: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(c) for c in text.split(",") if c.strip())
    except ValueError:
        raise typer.BadParameter(f"{option} must be comma-separated numbers, got {text!r}")
    if not vals:
        raise typer.BadParameter(f"{option} needs at least one number")
    return vals


def _parse_value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("none", "null"):
        return None
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _parse_params(items: list[str], option: str = "--param") -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise typer.BadParameter(f"{option} expects KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = _parse_value(v)
    return out


def _parse_grid(items: list[str]) -> dict:
    grid = {}
    for item in items or []:
        if "=" not in item:
            raise typer.BadParameter(f"--grid expects KEY=V1,V2,..., got {item!r}")
        k, v = item.split("=", 1)
        grid[k.strip()] = [_parse_value(x) for x in v.split(",") if x.strip()]
        if not grid[k.strip()]:
            raise typer.BadParameter(f"--grid {k}: no values")
    return grid


def _make_model(model: Model, params: dict, random_state: int):
    from .. import cca

    est = getattr(cca, _CLASS[model.value])()
    valid = est.get_params()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise typer.BadParameter(f"--param: {_CLASS[model.value]} has no parameter(s) {unknown}; it has {sorted(valid)}")
    est.set_params(**params)
    if "random_state" in valid and est.get_params()["random_state"] is None:
        est.set_params(random_state=random_state)
    return est


def _load(simulate: bool, x: Optional[Path], y: Optional[list[Path]], study: Optional[Path], id_column: Optional[str],
          x_modality: Optional[str], y_modality: Optional[list[str]], n_samples: int, n_snps: int, n_rois: int,
          correlations: str, random_state: int) -> Data:
    sources = sum([bool(simulate), x is not None or bool(y), study is not None])
    if sources != 1:
        raise typer.BadParameter("give exactly one data source: --simulate, --x/--y tables, or --study")
    if simulate:
        from ..simulate import multitask_cca_data

        corr = _parse_floats(correlations, "--correlations")
        X, Ys, truth = multitask_cca_data(n_samples, n_snps, n_rois, correlations=corr, random_state=random_state)
        K = len(Ys)
        return Data(np.asarray(X, dtype=np.float64), [np.asarray(Y, dtype=np.float64) for Y in Ys],
                    [f"snp{j + 1}" for j in range(X.shape[1])],
                    [[f"roi{j + 1}" for j in range(Y.shape[1])] for Y in Ys], [f"Y{k + 1}" for k in range(K)], truth)
    if study is not None:
        from ..workflows.study import check_complete, preprocessed_study

        # the study's own preprocessing (QC, imputation, covariates), as 'run' applies it
        _, views, data = preprocessed_study(study)
        names = views.names
        xm = x_modality or next((n for n in names if views.kind(n) == "genotype"), None)
        yms = list(y_modality or [n for n in names if views.kind(n) == "imaging"])
        if xm is None or xm not in names:
            raise typer.BadParameter(f"--x-modality: no genotype modality {xm!r} in {study}; modalities are {names}")
        for m in yms:
            if m not in names:
                raise typer.BadParameter(f"--y-modality: unknown modality {m!r}; modalities are {names}")
        if not yms:
            raise typer.BadParameter(f"--y-modality: {study} has no imaging modality; name one with --y-modality")
        try:
            check_complete(data, [xm, *yms])
        except ValueError as exc:
            raise typer.BadParameter(f"--study {study}: {exc}") from None
        return Data(data[xm].to_numpy(dtype=np.float64), [data[m].to_numpy(dtype=np.float64) for m in yms],
                    [str(c) for c in data[xm].columns], [[str(c) for c in data[m].columns] for m in yms], yms,
                    sample_ids=list(views.sample_index), outcomes=views.outcomes)
    if x is None or not y:
        raise typer.BadParameter("--x and at least one --y are needed together")
    from ..io import read_table

    from . import check_table_values, report_dropped, unique_names

    idc: Any = id_column if id_column is not None else 0
    frames = [read_table(x, id_column=idc, numeric=True)] + [read_table(p, id_column=idc, numeric=True) for p in y]
    common = frames[0].index
    for f in frames[1:]:
        common = common.intersection(f.index, sort=False)
    if len(common) < 3:
        raise typer.BadParameter(f"--x/--y: only {len(common)} sample IDs are shared by all tables; check --id-column")
    report_dropped([(str(p), len(f)) for p, f in zip([x, *y], frames)], len(common))
    frames = [f.loc[common] for f in frames]
    for path, f in zip([x, *y], frames):
        check_table_values(f, str(path))
    return Data(frames[0].to_numpy(dtype=np.float64), [f.to_numpy(dtype=np.float64) for f in frames[1:]],
                [str(c) for c in frames[0].columns], [[str(c) for c in f.columns] for f in frames[1:]],
                # equal file names (fmri/roi.csv, dmri/roi.csv) must not share y_weights_<name>
                unique_names([p.stem for p in y], y), sample_ids=list(common))


def _check_out(out: Path) -> None:
    """Fail before any data is read or fitted when --out cannot be a folder."""
    from . import check_output_folder

    check_output_folder(out)


def _write(frame: pd.DataFrame, out: Path, stem: str, fmt: Format, index: bool = False) -> Path:
    from ..io import write_table

    path = write_table(frame, out / f"{stem}.{fmt.value}", index=index)
    typer.echo(str(path))
    return path


def _figure(fig, out: Path, name: str) -> None:
    from ..report.figures import save_figure

    path = out / f"{name}.png"
    save_figure(fig, path)
    typer.echo(str(path))


def _name_tasks(table: pd.DataFrame, data: Data) -> pd.DataFrame:
    table = table.copy()
    table.insert(table.columns.get_loc("task") + 1, "modality", [data.task_names[k] for k in table["task"]])
    return table


def _truth_tables(data: Data, x_weights: np.ndarray, y_weights: list, method: str) -> tuple[pd.DataFrame, dict]:
    """AUC and estimation accuracy against simulated truth, plus ROC curves."""
    from ..inference.metrics import estimation_accuracy, roc_points
    from ..inference.metrics import feature_selection_auc as _auc

    def feature_selection_auc(w, m):  # NaN where the truth has only one class
        try:
            return _auc(w, m)
        except ValueError:
            return np.nan

    def roc(w, m):
        try:
            return roc_points(w, m)
        except ValueError:
            return None

    t = data.truth
    sx = np.asarray(t["support_x"], dtype=bool)
    rows = []
    Kx = x_weights.shape[1]
    for k, name in enumerate(data.task_names):
        u = x_weights[:, k if Kx > 1 else 0]
        rows.append({"method": method, "modality": name,
                     "auc_snp": feature_selection_auc(u, sx[:, k]),
                     "auc_roi": feature_selection_auc(y_weights[k], np.asarray(t["support_y"][k], dtype=bool)),
                     "accuracy_snp": estimation_accuracy(u, np.asarray(t["u"])[:, k]),
                     "accuracy_roi": estimation_accuracy(y_weights[k], np.asarray(t["v"][k]))})
    rows.append({"method": method, "modality": "all (row norms)",
                 "auc_snp": feature_selection_auc(x_weights, sx.any(axis=1) if Kx == 1 else sx),
                 "auc_roi": (feature_selection_auc(list(y_weights), [np.asarray(s, bool) for s in t["support_y"]])
                             if len({len(v) for v in y_weights}) == 1 else np.nan),
                 "accuracy_snp": np.nan, "accuracy_roi": np.nan})
    curves = {"SNPs": roc(x_weights, sx.any(axis=1) if Kx == 1 else sx)}
    for k, name in enumerate(data.task_names):
        curves[f"regions {name}"] = roc(y_weights[k], np.asarray(t["support_y"][k], dtype=bool))
    return pd.DataFrame(rows), {k: v for k, v in curves.items() if v is not None}


# Shared options as module-level defaults (typer reads them from the signatures).
_X = typer.Option(None, "--x", help="SNP table (CSV/TSV/Parquet), one row per sample, with an ID column.")
_Y = typer.Option(None, "--y", help="Imaging table, one per modality (repeat the option).")
_STUDY = typer.Option(None, "--study", help="Study YAML (as for imaging-genetics run); its preprocessing section (genotype QC, imputation, covariates) is applied.")
_IDC = typer.Option(None, "--id-column", help="Sample ID column of the tables (default: the first column).")
_XM = typer.Option(None, "--x-modality", help="Study: genotype modality used as X (default: the one of kind genotype).")
_YM = typer.Option(None, "--y-modality", help="Study: imaging modality (repeat; default: all of kind imaging).")
_MODEL = typer.Option(Model.mts2cca, "--model", help="Which model to run.")
_PARAM = typer.Option(None, "--param", help="Model parameter KEY=VALUE (repeat), e.g. sparsity_x=0.1.")
_OUT = typer.Option(..., "--out", "-o", help="Output folder (created if missing).")
_FMT = typer.Option(Format.csv, "--format", help="Table format: csv or parquet.")
_SEED = typer.Option(0, "--random-state", help="Seed for simulation, folds and fits.")
_JOBS = typer.Option(1, "--n-jobs", help="Parallel workers (joblib).")
_PRIOR = typer.Option(True, "--prior/--no-prior", help="Pass corr² prior networks built from each training part.")


@app.command("fit")
def fit_cmd(
    out: Path = _OUT, model: Model = _MODEL, param: Optional[list[str]] = _PARAM,
    simulate: bool = _opt_simulate(), n_samples: int = _SIM["n_samples"], n_snps: int = _SIM["n_snps"],
    n_rois: int = _SIM["n_rois"], correlations: str = _SIM["correlations"],
    x: Optional[Path] = _X, y: Optional[list[Path]] = _Y, study: Optional[Path] = _STUDY,
    id_column: Optional[str] = _IDC, x_modality: Optional[str] = _XM, y_modality: Optional[list[str]] = _YM,
    fmt: Format = _FMT, random_state: int = _SEED,
) -> None:
    """Fit one model on all samples; write weights, correlations, the model file and figures."""
    from ..inference.metrics import first_component, timed_fit
    from ..report.figures import region_weight_bars, roc_curves, weight_heatmap

    # the model (and its --param values) is checked before any data is read or simulated
    est = _make_model(model, _parse_params(param), random_state)
    _check_out(out)
    data = _load(simulate, x, y, study, id_column, x_modality, y_modality, n_samples, n_snps, n_rois, correlations, random_state)
    out.mkdir(parents=True, exist_ok=True)
    rec = timed_fit(est, data.X, data.Ys)
    W, Vs = first_component(est)
    cols = data.task_names if W.shape[1] > 1 else ["shared"]
    _write(pd.DataFrame(W, index=pd.Index(data.x_names, name="snp"), columns=cols), out, "x_weights", fmt, index=True)
    for k, v in enumerate(Vs):
        _write(pd.DataFrame({"weight": v}, index=pd.Index(data.y_names[k], name="region")), out,
               f"y_weights_{data.task_names[k]}", fmt, index=True)
    summary = pd.DataFrame({"modality": data.task_names,
                            "train_ccc": np.asarray(est.canonical_correlations_, dtype=np.float64).reshape(len(Vs), -1)[:, 0],
                            "fit_time_s": rec.fit_time_s, "peak_memory_mb": rec.peak_memory_mb,
                            "n_iter": getattr(est, "n_iter_", np.nan), "n_samples": data.n_samples})
    _write(summary, out, "correlations", fmt)
    path = out / "model.npz"
    if hasattr(est, "save"):
        est.save(path)
        typer.echo(str(path))
    _figure(weight_heatmap(W, column_labels=cols, title=f"{_CLASS[model.value]} SNP weights"), out, "x_weights")
    _figure(region_weight_bars(np.column_stack(Vs) if len({len(v) for v in Vs}) == 1 else Vs[0],
                               data.y_names[0], modality_labels=data.task_names if len({len(v) for v in Vs}) == 1 else None,
                               title=f"{_CLASS[model.value]} region weights"), out, "y_weights")
    if data.truth is not None:
        table, curves = _truth_tables(data, W, Vs, _CLASS[model.value])
        _write(table, out, "feature_selection", fmt)
        _figure(roc_curves(curves), out, "roc")


@app.command("cv")
def cv_cmd(
    out: Path = _OUT, model: Model = _MODEL, param: Optional[list[str]] = _PARAM,
    grid: Optional[list[str]] = typer.Option(None, "--grid", help="Tuned parameter KEY=V1,V2,... (repeat). Without it, plain k-fold CV."),
    outer: int = typer.Option(5, "--outer", help="Outer folds."), inner: int = typer.Option(5, "--inner", help="Inner folds of the grid search."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from OUT/cv_tasks.jsonl."),
    simulate: bool = _opt_simulate(), n_samples: int = _SIM["n_samples"], n_snps: int = _SIM["n_snps"],
    n_rois: int = _SIM["n_rois"], correlations: str = _SIM["correlations"],
    x: Optional[Path] = _X, y: Optional[list[Path]] = _Y, study: Optional[Path] = _STUDY,
    id_column: Optional[str] = _IDC, x_modality: Optional[str] = _XM, y_modality: Optional[list[str]] = _YM,
    fmt: Format = _FMT, random_state: int = _SEED, n_jobs: int = _JOBS, prior: bool = _PRIOR,
) -> None:
    """Nested cross-validation: train/test CCC per fold and task, chosen parameters, weights."""
    from ..inference import nested_cv
    from ..report.figures import ccc_bars, roc_curves, weight_heatmap

    # the model (and its --param values) is checked before any data is read or simulated
    est = _make_model(model, _parse_params(param), random_state)
    g = _parse_grid(grid)
    valid = est.get_params()
    bad = sorted(set(g) - set(valid))
    if bad:
        raise typer.BadParameter(f"--grid: {_CLASS[model.value]} has no parameter(s) {bad}")
    _check_out(out)
    data = _load(simulate, x, y, study, id_column, x_modality, y_modality, n_samples, n_snps, n_rois, correlations, random_state)
    out.mkdir(parents=True, exist_ok=True)
    res = nested_cv(est, data.X, data.Ys, g or None, outer_cv=outer, inner_cv=inner, random_state=random_state,
                    n_jobs=n_jobs, prior="correlation" if prior else None, results_path=out / "cv_tasks.jsonl",
                    resume=resume, progress=True)
    name = _CLASS[model.value]
    folds = _name_tasks(res.table, data)
    folds.insert(0, "method", name)
    _write(folds, out, "cv_folds", fmt)
    summary = _name_tasks(res.summary(), data)
    summary.insert(0, "method", name)
    summary["n_samples"] = data.n_samples
    _write(summary, out, "cv_summary", fmt)
    if len(res.inner_table):
        _write(res.inner_table, out, "cv_inner", fmt)
    res.save(out / "cv_result.npz")
    typer.echo(str(out / "cv_result.npz"))
    _figure(ccc_bars(folds.assign(task=folds["modality"]), title=f"{name}: nested {outer}-fold CV"), out, "ccc")
    W, Vs = res.mean_weights()
    _figure(weight_heatmap(W, column_labels=data.task_names if W.shape[1] > 1 else ["shared"],
                           title=f"{name} SNP weights (fold mean, sign-aligned)"), out, "x_weights")
    if data.truth is not None:
        table, curves = _truth_tables(data, W, Vs, name)
        _write(table, out, "feature_selection", fmt)
        _figure(roc_curves(curves), out, "roc")
    for _, row in summary.iterrows():
        typer.echo(f"{row['modality']}: train {row['train_ccc_mean']:.3f} ± {row['train_ccc_sd']:.3f}, "
                   f"test {row['test_ccc_mean']:.3f} ± {row['test_ccc_sd']:.3f}")


@app.command("permute")
def permute_cmd(
    out: Path = _OUT, model: Model = _MODEL, param: Optional[list[str]] = _PARAM,
    n_permutations: int = typer.Option(99, "--n-permutations", help="Number of permutations B (p >= 1/(B+1))."),
    statistic: str = typer.Option("heldout", "--statistic", help="heldout (CV test CCC) or insample (training CCC)."),
    cv: int = typer.Option(5, "--cv", help="Folds of the held-out statistic."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from OUT/permutation_tasks.jsonl."),
    simulate: bool = _opt_simulate(), n_samples: int = _SIM["n_samples"], n_snps: int = _SIM["n_snps"],
    n_rois: int = _SIM["n_rois"], correlations: str = _SIM["correlations"],
    x: Optional[Path] = _X, y: Optional[list[Path]] = _Y, study: Optional[Path] = _STUDY,
    id_column: Optional[str] = _IDC, x_modality: Optional[str] = _XM, y_modality: Optional[list[str]] = _YM,
    fmt: Format = _FMT, random_state: int = _SEED, n_jobs: int = _JOBS, prior: bool = _PRIOR,
) -> None:
    """Permutation p-value of each task's canonical correlation (imaging rows permuted, model refitted)."""
    import matplotlib.pyplot as plt

    from ..inference import permutation_test

    if statistic not in ("heldout", "insample"):
        raise typer.BadParameter(f"--statistic must be heldout or insample, got {statistic!r}")
    # the model (and its --param values) is checked before any data is read or simulated
    est = _make_model(model, _parse_params(param), random_state)
    _check_out(out)
    data = _load(simulate, x, y, study, id_column, x_modality, y_modality, n_samples, n_snps, n_rois, correlations, random_state)
    out.mkdir(parents=True, exist_ok=True)
    t = permutation_test(est, data.X, data.Ys, n_permutations=n_permutations, statistic=statistic, cv=cv,
                         prior="correlation" if prior else None, random_state=random_state, n_jobs=n_jobs,
                         results_path=out / "permutation_tasks.jsonl", resume=resume, progress=True)
    null = np.asarray(t.attrs["null"], dtype=np.float64)
    table = _name_tasks(t, data)
    table["n_samples"] = data.n_samples
    _write(table, out, "permutation", fmt)
    _write(pd.DataFrame(null, columns=data.task_names), out, "permutation_null", fmt)
    K = null.shape[1]
    fig, axes = plt.subplots(1, K, figsize=(3.2 * K + 0.5, 3.0), squeeze=False)
    for k, ax in enumerate(axes[0]):
        ax.hist(null[:, k], bins=20, color="0.7")
        ax.axvline(t["statistic"].iloc[k], color="C3", label=f"observed, p = {t['p_value'].iloc[k]:.3g}")
        ax.set_title(data.task_names[k])
        ax.set_xlabel(f"{statistic} CCC")
        ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    _figure(fig, out, "permutation")
    for _, row in table.iterrows():
        typer.echo(f"{row['modality']}: CCC {row['statistic']:.3f}, p = {row['p_value']:.4g}")


@app.command("stability")
def stability_cmd(
    out: Path = _OUT, model: Model = _MODEL, param: Optional[list[str]] = _PARAM,
    n_subsamples: int = typer.Option(50, "--n-subsamples", help="Number of random subsamples."),
    fraction: float = typer.Option(0.5, "--fraction", help="Subsample size as a fraction of n."),
    threshold: float = typer.Option(0.1, "--threshold", help="Selected when |weight| >= threshold * max |weight|."),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="Select the k largest weights instead of --threshold."),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted run from OUT/stability_tasks.jsonl."),
    simulate: bool = _opt_simulate(), n_samples: int = _SIM["n_samples"], n_snps: int = _SIM["n_snps"],
    n_rois: int = _SIM["n_rois"], correlations: str = _SIM["correlations"],
    x: Optional[Path] = _X, y: Optional[list[Path]] = _Y, study: Optional[Path] = _STUDY,
    id_column: Optional[str] = _IDC, x_modality: Optional[str] = _XM, y_modality: Optional[list[str]] = _YM,
    fmt: Format = _FMT, random_state: int = _SEED, n_jobs: int = _JOBS, prior: bool = _PRIOR,
) -> None:
    """Selection frequency of every SNP and region over random subsamples."""
    from ..inference import stability_selection
    from ..report.figures import region_weight_bars

    # the model (and its --param values) is checked before any data is read or simulated
    est = _make_model(model, _parse_params(param), random_state)
    _check_out(out)
    data = _load(simulate, x, y, study, id_column, x_modality, y_modality, n_samples, n_snps, n_rois, correlations, random_state)
    out.mkdir(parents=True, exist_ok=True)
    res = stability_selection(est, data.X, data.Ys, n_subsamples=n_subsamples, fraction=fraction, threshold=threshold,
                              top_k=top_k, prior="correlation" if prior else None, random_state=random_state,
                              n_jobs=n_jobs, results_path=out / "stability_tasks.jsonl", resume=resume, progress=True)
    res.x_names = data.x_names
    res.y_names = data.y_names
    table = res.table
    table["modality"] = table["modality"].map({"X": "X", **{f"Y{k + 1}": n for k, n in enumerate(data.task_names)}})
    _write(table, out, "stability", fmt)
    _figure(region_weight_bars(res.x_frequency, data.x_names, title="SNP selection frequency"), out, "stability_snps")
    ys = res.y_frequency
    same = len({len(f) for f in ys}) == 1
    _figure(region_weight_bars(np.column_stack(ys) if same else ys[0], data.y_names[0],
                               modality_labels=data.task_names if same else None,
                               title="Region selection frequency"), out, "stability_regions")
    top = table[table["modality"] == "X"].head(10)
    typer.echo("most stable SNPs: " + ", ".join(f"{f} ({v:.2f})" for f, v in zip(top["feature"], top["frequency"])))


class Features(str, Enum):
    variates = "variates"
    selected = "selected"


def _outcome_table(data: Data, outcome: Optional[Path], columns: Optional[list[str]], id_column: Optional[str],
                   random_state: int) -> pd.DataFrame:
    """The outcomes to predict, one column each, rows in the order of the data's samples
    (NaN where a sample has no value)."""
    if outcome is not None:
        from ..io import read_table

        if data.sample_ids is None:
            raise typer.BadParameter("--outcome: simulated samples have no IDs to match; with --simulate the "
                                     "outcome is simulated (leave --outcome out)")
        table = read_table(outcome, id_column=id_column if id_column is not None else 0)
        table.index = table.index.astype(str)
        ids = [str(i) for i in data.sample_ids]
        found = table.index.intersection(ids)
        if len(found) == 0:
            raise typer.BadParameter(f"--outcome: no sample ID of {outcome} is among the analysed samples; check "
                                     "--id-column")
        if table.index.has_duplicates:
            raise typer.BadParameter(f"--outcome: {outcome} lists a sample ID more than once")
        table = table.reindex(ids)
    elif data.outcomes is not None:
        table = data.outcomes.copy()
    elif data.truth is not None and "latent" in data.truth:
        from ..simulate._common import clinical_score

        # the first task's latent variable plus noise of unit SD: the best attainable r is 1/sqrt(2)
        table = pd.DataFrame({"simulated_score": clinical_score(np.asarray(data.truth["latent"])[:, 0], 1.0,
                                                                random_state)})
    else:
        raise typer.BadParameter("--outcome: give a table of outcomes (or use --study with an outcomes section)")
    if columns:
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise typer.BadParameter(f"--outcome-column: {missing} not among the outcome columns "
                                     f"{[str(c) for c in table.columns]}")
        table = table[columns]
    bad = [str(c) for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if bad:
        raise typer.BadParameter(f"--outcome: column(s) {bad} are not numeric; choose numeric ones with "
                                 "--outcome-column")
    return table


@app.command("predict")
def predict_cmd(
    out: Path = _OUT, model: Model = _MODEL, param: Optional[list[str]] = _PARAM,
    outcome: Optional[Path] = typer.Option(None, "--outcome", help="Table of outcomes (clinical scores) with a sample ID column; with --study the study's outcomes are the default, with --simulate a simulated score."),
    outcome_column: Optional[list[str]] = typer.Option(None, "--outcome-column", help="Outcome column to predict (repeat; default: every column)."),
    features: Features = typer.Option(Features.variates, "--features", help="variates: the canonical variates; selected: the raw top-ranked SNPs and regions."),
    n_selected: int = typer.Option(10, "--n-selected", help="selected: top SNPs and top regions per modality."),
    cv: int = typer.Option(5, "--cv", help="Cross-validation folds."),
    simulate: bool = _opt_simulate(), n_samples: int = _SIM["n_samples"], n_snps: int = _SIM["n_snps"],
    n_rois: int = _SIM["n_rois"], correlations: str = _SIM["correlations"],
    x: Optional[Path] = _X, y: Optional[list[Path]] = _Y, study: Optional[Path] = _STUDY,
    id_column: Optional[str] = _IDC, x_modality: Optional[str] = _XM, y_modality: Optional[list[str]] = _YM,
    fmt: Format = _FMT, random_state: int = _SEED, n_jobs: int = _JOBS, prior: bool = _PRIOR,
) -> None:
    """Cross-validated prediction of clinical scores from a model's canonical variates or selected features (ridge)."""
    from ..workflows.study import check_outcomes, outcome_predictions

    # the model (and its --param values) is checked before any data is read or simulated
    est = _make_model(model, _parse_params(param), random_state)
    _check_out(out)
    data = _load(simulate, x, y, study, id_column, x_modality, y_modality, n_samples, n_snps, n_rois, correlations, random_state)
    table = _outcome_table(data, outcome, outcome_column, id_column, random_state)
    try:
        check_outcomes(table, cv)
    except ValueError as exc:
        raise typer.BadParameter(f"--outcome: {exc}") from None
    out.mkdir(parents=True, exist_ok=True)
    ids = np.asarray(data.sample_ids if data.sample_ids is not None else range(data.n_samples), dtype=object)
    summary, folds, per_sample = [], [], []
    results = outcome_predictions(est, data.X, data.Ys, table, features=features.value, n_selected=n_selected,
                                  cv=cv, prior="correlation" if prior else None, random_state=random_state,
                                  n_jobs=n_jobs)
    for name, (row, keep, res) in zip(table.columns, results):
        col = row["outcome"]
        summary.append({"method": _CLASS[model.value], "outcome": col, "features": features.value, **row})
        folds.append(res.table.assign(outcome=col))
        per_sample.append(pd.DataFrame({"sample": ids[keep], "outcome": col,
                                        "observed": table[name].to_numpy(dtype=np.float64)[keep],
                                        "predicted": res.predictions}))
        typer.echo(f"{col}: RMSE {res.rmse:.4g} (outcome SD {row['outcome_sd']:.4g}), r = {res.r:.3f} "
                   f"over {row['n_samples']} samples")
    _write(pd.DataFrame(summary), out, "prediction", fmt)
    _write(pd.concat(folds, ignore_index=True), out, "prediction_folds", fmt)
    _write(pd.concat(per_sample, ignore_index=True), out, "predictions", fmt)
