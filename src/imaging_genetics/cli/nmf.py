"""``imaging-genetics nmf``: joint NMF fits, parameter search and co-module tests."""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from enum import Enum
from pathlib import Path
from typing import Any, List, Optional

import numpy as np
import pandas as pd
import typer

log = logging.getLogger(__name__)

app = typer.Typer(
    help="Joint graph-regularised NMF (JNMF, JSNMNMF, JCB-SNMF): fit, grid search, co-modules.",
    no_args_is_help=True,
)

_TABLE_EXT = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".csv.gz", ".tsv.gz")


class Model(str, Enum):
    jcbsnmf = "jcbsnmf"
    jsnmnmf = "jsnmnmf"
    jnmf = "jnmf"


class Preset(str, Enum):
    small = "small"
    large = "large"


class Priors(str, Enum):
    correlation = "correlation"
    none = "none"


class Precision(str, Enum):
    float64 = "float64"
    float32 = "float32"


class ModuleRule(str, Enum):
    zscore = "zscore"
    mad = "mad"
    otsu = "otsu"
    topk = "topk"


class Orientation(str, Enum):
    row = "row"
    column = "column"


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------


class _Data:
    def __init__(self, names, frames, cross=None, graphs=None, truth=None, sources=None):
        self.names: list[str] = names
        self.frames: list[pd.DataFrame] = frames
        self.cross = cross
        self.graphs = graphs
        self.truth = truth
        # where each modality came from, for messages (a file, or the simulation)
        self.sources: list[str] = sources if sources is not None else [f"simulated '{n}'" for n in names]

    @property
    def Xs(self) -> list[np.ndarray]:
        return [f.to_numpy(dtype=np.float64) for f in self.frames]


def _table_files(inputs: List[Path]) -> list[Path]:
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(_TABLE_EXT))
            if not found:
                raise typer.BadParameter(f"{path}: no CSV/TSV/Parquet tables in this folder")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise typer.BadParameter(f"{path}: no such file or folder")
    return files


def _modality_name(path: Path) -> str:
    name = path.name
    for ext in sorted(_TABLE_EXT, key=len, reverse=True):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return path.stem


def _correlation_priors(frames: list[pd.DataFrame], threshold: float):
    """|r|^2 graphs within and across modalities, keeping edges with r^2 > threshold."""
    from ..networks import correlation_graph, cross_correlation_graph

    Xs = [f.to_numpy(dtype=np.float64) for f in frames]
    graphs = [correlation_graph(X, power=2, threshold=threshold) for X in Xs]
    cross = {}
    for I in range(len(Xs)):
        for J in range(I + 1, len(Xs)):
            A = cross_correlation_graph(Xs[I], Xs[J], power=2, threshold=threshold)
            if A.nnz:
                cross[(I, J)] = A
    return cross, graphs


def _load(inputs: Optional[List[Path]], simulate: Optional[Preset], id_column: Optional[str],
          priors: Priors, prior_threshold: float, noise_level: float, random_state: int) -> _Data:
    if simulate is not None:
        if inputs:
            raise typer.BadParameter("give either input tables or --simulate, not both")
        from ..simulate.nmf import joint_nmf_data, joint_nmf_preset

        kw = joint_nmf_preset(simulate.value)
        Xs, truth = joint_nmf_data(noise_level=noise_level, random_state=random_state, **kw)
        names = ["mri", "snp", "gene"][: len(Xs)]
        ids = [f"S{i + 1:03d}" for i in range(Xs[0].shape[0])]
        frames = [
            pd.DataFrame(X, index=pd.Index(ids, name="IID"), columns=[f"{nm}_{j + 1}" for j in range(X.shape[1])])
            for nm, X in zip(names, Xs)
        ]
        return _Data(names, frames, truth["cross_adjacency"], truth["graphs"], truth)
    if not inputs:
        raise typer.BadParameter("give input tables (files or a folder) or --simulate small|large")
    from ..io import read_table

    from . import unique_names

    files = _table_files(inputs)
    frames = []
    for path in files:
        kw: dict[str, Any] = {"numeric": True}
        if id_column is not None:
            kw["id_column"] = id_column
        frames.append(read_table(path, **kw))
    # equal file names (fmri/roi.csv, dmri/roi.csv) must not share H_<name>.csv
    names = unique_names([_modality_name(p) for p in files], files)
    common = frames[0].index
    for f in frames[1:]:
        common = common.intersection(f.index, sort=False)
    if len(common) < 2:
        raise typer.BadParameter("the input tables share fewer than 2 sample IDs; check the ID column")
    from . import check_table_values, report_dropped

    report_dropped([(str(p), len(f)) for p, f in zip(files, frames)], len(common))
    frames = [f.loc[common] for f in frames]

    for nm, f, path in zip(names, frames, files):
        check_table_values(f, f"{path} (modality '{nm}')", nonnegative=True)
    cross = graphs = None
    if priors is Priors.correlation:
        cross, graphs = _correlation_priors(frames, prior_threshold)
    return _Data(names, frames, cross, graphs, sources=[str(p) for p in files])


def _estimator(model: Model, **params):
    from ..nmf import JCBSNMF, JNMF, JSNMNMF

    cls = {"jcbsnmf": JCBSNMF, "jsnmnmf": JSNMNMF, "jnmf": JNMF}[model.value]
    valid = cls().get_params()
    return cls(**{k: v for k, v in params.items() if k in valid})


def _fit_kwargs(est, data: _Data) -> dict:
    kw = {}
    if getattr(est, "_uses_cross", False) and data.cross:
        kw["cross_adjacency"] = data.cross
    if getattr(est, "_uses_graphs", False) and data.graphs is not None:
        kw["graphs"] = data.graphs
    return kw


def _write_json(obj, path: Path) -> None:
    from ..base import write_json

    write_json(path, obj)


def _write_csv(frame: pd.DataFrame, path: Path, index: bool = True) -> None:
    from ..base import atomic_write_bytes

    atomic_write_bytes(path, lambda fh: fh.write(frame.to_csv(index=index).encode("utf-8")))


def _save_figure(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    from ..base import atomic_write_bytes

    atomic_write_bytes(path, lambda fh: fig.savefig(fh, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _modules_table(modules, data: _Data) -> pd.DataFrame:
    rows = []
    for i, module in enumerate(modules):
        for I, idx in enumerate(module):
            cols = data.frames[I].columns
            rows.extend({"module": i + 1, "modality": data.names[I], "feature": str(cols[j])} for j in idx)
    return pd.DataFrame(rows, columns=["module", "modality", "feature"])


def _best_setting(table: pd.DataFrame, names: list[str]) -> tuple[dict, dict]:
    """The recommended grid setting: the lowest reconstruction error among the settings whose
    objective is bounded below (a setting flagged ``bounded=False`` only when none is)."""
    from ..inference.nmf_selection import best_setting

    try:
        row = best_setting(table)
    except ValueError as exc:
        raise typer.BadParameter(f"{exc}; try smaller --values") from exc
    finite = table[np.isfinite(table["reconstruction_error"].to_numpy(dtype=float))]
    params = {p: float(row[p]) for p in names}
    best: dict[str, Any] = {"group": int(row["group"]), **params, "bounded": bool(row["bounded"])}
    if not best["bounded"]:
        note = ("no setting of the grid has an objective bounded below; this is the one with the lowest "
                "reconstruction error, but its fit may not be meaningful: add larger sparsity values or "
                "smaller cross_strength values")
        best["note"] = note
        typer.echo(f"warning: {note}", err=True)
    else:
        lower = finite[(finite["reconstruction_error"] < row["reconstruction_error"])]
        if len(lower):
            best["note"] = (f"{len(lower)} setting(s) with a lower reconstruction error (group "
                            f"{int(lower.sort_values('reconstruction_error').iloc[0]['group'])} the lowest) have an "
                            "objective unbounded below (bounded=False in grid.csv) and are not recommended")
            log.warning("grid: %s", best["note"])
    return params, best


def _threshold(value: str | None, M: int):
    if value is None:
        return None
    try:
        parts = [float(v) for v in value.split(",")]
    except ValueError:
        raise typer.BadParameter(f"--threshold: expected numbers, got {value!r}") from None
    if len(parts) not in (1, M):
        raise typer.BadParameter(f"--threshold: give one value or {M} comma-separated values")
    return parts[0] if len(parts) == 1 else parts


def _extract(est, threshold: str | None, rule: "ModuleRule", orientation: "Orientation", M: int):
    """Co-modules by the command line's rule (est=None: only check the rule), with
    argument errors as usage errors."""
    from ..inference.modules import extract_modules, module_thresholds

    try:
        if est is None:
            module_thresholds(_threshold(threshold, M), rule.value, M)
            return None
        return extract_modules(est, threshold=_threshold(threshold, M), method=rule.value,
                               orientation=orientation.value)
    except ValueError as exc:
        raise typer.BadParameter(f"{exc} (--threshold / --module-rule)") from exc


def _check_out(out: Path) -> None:
    """Fail before any data is read or fitted when --out cannot be a folder."""
    from . import check_output_folder

    check_output_folder(out)


_MODEL_HINT = "'--model' / '-m'"


def _load_model(model_file: Path):
    """The joint NMF model in ``model_file``; a usage error for another kind of model."""
    from ..base import load
    from ..nmf._base import JointNMFBase

    est = load(model_file)
    if not isinstance(est, JointNMFBase):
        module = type(est).__module__
        kind = "a CCA model" if module.startswith("imaging_genetics.cca") else "not an NMF model"
        raise typer.BadParameter(
            f"{model_file} holds a model of class {type(est).__name__} ({kind}), not a joint NMF model; "
            "give the model.npz written by 'imaging-genetics nmf fit'", param_hint=_MODEL_HINT)
    if getattr(est, "coefficients_", None) is None or getattr(est, "basis_", None) is None:
        raise typer.BadParameter(f"{model_file} holds a {type(est).__name__} that was never fitted",
                                 param_hint=_MODEL_HINT)
    return est


def _feature_record_path(model_file: Path) -> Path:
    """The JSON file next to the model that names the modalities and features of the fit."""
    return model_file.with_suffix(".features.json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_feature_record(model_file: Path, data: _Data) -> Path:
    path = _feature_record_path(model_file)
    _write_json({
        "about": "modalities and features (columns, in order) the model was fitted on; "
                 "'imaging-genetics nmf modules' checks its tables against them",
        "model_file": model_file.name,
        "model_sha256": _sha256(model_file),
        "modalities": list(data.names),
        "sources": list(data.sources),
        "features": [[str(c) for c in f.columns] for f in data.frames],
        "n_samples": int(len(data.frames[0])),
    }, path)
    return path


def _read_feature_record(model_file: Path) -> Optional[dict]:
    """The fit's record of modalities and features, or None (with a warning) when absent or stale."""
    path = _feature_record_path(model_file)
    if not path.is_file():
        log.warning("%s not found (a model from an older version?): only the number of features per "
                    "modality is checked, not their names or order", path.name)
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        names, feats = record["modalities"], record["features"]
        ok = (isinstance(names, list) and isinstance(feats, list) and len(names) == len(feats)
              and all(isinstance(f, list) for f in feats))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise typer.BadParameter(f"{path}: not a readable feature record ({type(exc).__name__}: {exc}); "
                                 "delete it to check only the feature counts", param_hint=_MODEL_HINT) from exc
    if not ok:
        raise typer.BadParameter(f"{path}: not a feature record written by 'nmf fit'; delete it to check "
                                 "only the feature counts", param_hint=_MODEL_HINT)
    if record.get("model_sha256") not in (None, _sha256(model_file)):
        log.warning("%s was written for another model file (its checksum differs from %s): only the number "
                    "of features per modality is checked", path.name, model_file.name)
        return None
    return record


def _match_fit(data: _Data, record: dict) -> _Data:
    """``data`` with every table's columns in the order of the fit; a usage error naming the
    table when its features or the order of the modalities differ from the fit's."""
    fit_names = [str(n) for n in record["modalities"]]
    fit_feats = [[str(c) for c in f] for f in record["features"]]
    if len(data.frames) != len(fit_feats):
        raise typer.BadParameter(
            f"the model was fitted on {len(fit_feats)} modalities {fit_names}, but {len(data.frames)} tables "
            f"were given: {data.sources}")
    frames = []
    for I, (src, frame) in enumerate(zip(data.sources, data.frames)):
        cols = [str(c) for c in frame.columns]
        want = fit_feats[I]
        if cols == want:
            frames.append(frame)
            continue
        if len(set(cols)) < len(cols):
            dup = sorted({c for c in cols if cols.count(c) > 1})[:5]
            raise typer.BadParameter(f"{src}: repeated column names {dup}")
        if set(cols) == set(want):
            log.warning("%s: columns come in another order than in the fit; reordered to the fit's order "
                        "of modality '%s'", src, fit_names[I])
            frames.append(frame.set_axis(cols, axis=1)[want])
            continue
        other = [J for J, f in enumerate(fit_feats) if J != I and set(f) == set(cols)]
        if other:
            J = other[0]
            raise typer.BadParameter(
                f"{src} (table {I + 1}) holds the features of modality '{fit_names[J]}' (modality {J + 1} of "
                f"the fit), not of '{fit_names[I]}'; give the tables in the fit's order: {fit_names}")
        have, need = set(cols), set(want)
        missing = [c for c in want if c not in have]
        extra = [c for c in cols if c not in need]
        raise typer.BadParameter(
            f"{src} (table {I + 1}): its columns are not the features modality '{fit_names[I]}' was fitted "
            f"on: {len(missing)} missing (e.g. {missing[:5]}), {len(extra)} not in the fit (e.g. {extra[:5]})")
    # features named alike in two modalities: the table names are then what tells them apart
    for I, (src, name) in enumerate(zip(data.sources, data.names)):
        if name != fit_names[I] and name in fit_names:
            raise typer.BadParameter(
                f"{src} (table {I + 1}) is modality '{name}', which is modality {fit_names.index(name) + 1} of "
                f"the fit; give the tables in the fit's order: {fit_names}")
    if data.names != fit_names:
        log.warning("the tables %s are named differently from the fit's modalities %s; their columns match, "
                    "so they are used (and named) as those", data.names, fit_names)
    return _Data(fit_names, frames, data.cross, data.graphs, data.truth, data.sources)


# ---------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------

_INPUTS = typer.Argument(None, help="Modality tables (CSV/TSV/Parquet, one per modality, samples x features with an ID column) or a folder holding them.")
_SIM = typer.Option(None, "--simulate", help="Use the JCB-SNMF paper's simulated 'small' or 'large' set instead of input tables.")
_ID = typer.Option(None, "--id-column", help="Name of the sample ID column (default: the first column).")
_PRIORS = typer.Option(Priors.correlation, help="Priors for input tables: 'correlation' builds |r|^2 graphs within and across modalities; 'none' fits without priors. Simulated data use the planted priors.")
_PTHR = typer.Option(0.25, "--prior-threshold", min=0.0, max=1.0, help="Keep correlation-prior edges with r^2 above this value.")
_MTHR = typer.Option(None, "--threshold", help="Module threshold T, or one per modality (comma-separated): the score a member must exceed for zscore and mad (default 2.0), the members per module for topk; not used by otsu.")
_RULE = typer.Option(ModuleRule.zscore, "--module-rule", help="Module membership rule: zscore (the JNMF convention), mad (median and MAD), otsu (Otsu split of each row) or topk.")
_ORIENT = typer.Option(Orientation.row, "--orientation", help="Score each row of H_I (a module across the features) or each column (a feature across the modules).")
_NOISE = typer.Option(10.0, "--noise-level", help="Noise level l of the simulated data.")
_SEED = typer.Option(0, "--random-state", help="Seed for simulation, restarts and permutations.")
_DTYPE = typer.Option(Precision.float64, "--dtype", help="Precision of the iterations; float32 is faster, its objective and convergence checks stay in float64.")


@app.command("fit")
def fit(
    inputs: Optional[List[Path]] = _INPUTS,
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created if missing)."),
    simulate: Optional[Preset] = _SIM,
    model: Model = typer.Option(Model.jcbsnmf, help="Which model of the family to fit."),
    n_components: int = typer.Option(10, "--n-components", "-k", help="Number of modules K."),
    cross_strength: float = typer.Option(0.01, help="lambda: weight of the cross-modality priors."),
    smoothness: float = typer.Option(0.01, help="beta: weight of the within-modality graph (Laplacian) penalty."),
    basis_penalty: float = typer.Option(0.1, help="gamma1: ridge weight on W."),
    sparsity: float = typer.Option(0.01, help="gamma2: column-L1^2 sparsity weight on H."),
    n_restarts: int = typer.Option(5, help="Random restarts; the one with the lowest objective is kept."),
    max_iter: int = typer.Option(500, help="Maximum iterations per restart."),
    tol: float = typer.Option(1e-6, help="Relative objective decrease that stops a restart."),
    init: str = typer.Option("random", help="'random' or 'nndsvda'."),
    n_jobs: int = typer.Option(1, help="Parallel batches of restarts."),
    dtype: Precision = _DTYPE,
    threshold: Optional[str] = _MTHR,
    module_rule: ModuleRule = _RULE,
    orientation: Orientation = _ORIENT,
    stability_runs: int = typer.Option(0, "--stability-runs", help="Also refit from this many independent random starts (>= 2) and report how well their co-modules reproduce the best one's (stability.csv; the paper's Fig. 6). 0 skips it."),
    id_column: Optional[str] = _ID,
    priors: Priors = _PRIORS,
    prior_threshold: float = _PTHR,
    noise_level: float = _NOISE,
    random_state: int = _SEED,
) -> None:
    """Fit a joint NMF model; write W, every H_I, the modules, the model file and figures."""
    from ..inference.modules import reconstruction_correlation, reconstruction_errors

    if stability_runs and stability_runs < 2:
        raise typer.BadParameter(f"--stability-runs: 0 to skip, or at least 2 runs to compare, got {stability_runs}")
    _check_out(out)
    data = _load(inputs, simulate, id_column, priors, prior_threshold, noise_level, random_state)
    _extract(None, threshold, module_rule, orientation, len(data.Xs))  # a bad rule fails before the fit
    est = _estimator(model, n_components=n_components, cross_strength=cross_strength, smoothness=smoothness,
                     basis_penalty=basis_penalty, sparsity=sparsity, n_restarts=n_restarts, max_iter=max_iter,
                     tol=tol, init=init, n_jobs=n_jobs, random_state=random_state, dtype=dtype.value)
    Xs = data.Xs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est.fit(Xs, **_fit_kwargs(est, data))
        except ValueError as exc:
            raise typer.BadParameter(f"{exc} (modalities in order: {data.names})") from exc
        except FloatingPointError as exc:  # every restart diverged: the message names the remedy
            hint = " (options --sparsity, --cross-strength)" if "cross_strength" in str(exc) else ""
            raise typer.BadParameter(f"{exc}{hint}") from exc
    for w in caught:
        typer.echo(f"warning: {w.message}", err=True)
    out.mkdir(parents=True, exist_ok=True)
    comps = [f"module_{i + 1}" for i in range(n_components)]
    _write_csv(pd.DataFrame(est.basis_, index=data.frames[0].index, columns=comps), out / "W.csv")
    for nm, H, f in zip(data.names, est.coefficients_, data.frames):
        _write_csv(pd.DataFrame(H, index=pd.Index(comps, name="module"), columns=f.columns), out / f"H_{nm}.csv")
    modules = _extract(est, threshold, module_rule, orientation, len(Xs))
    _write_csv(_modules_table(modules, data), out / "modules.csv", index=False)
    model_path = est.save(out / "model.npz")
    _write_feature_record(model_path, data)
    corr = reconstruction_correlation(est, Xs)
    errors = reconstruction_errors(est, Xs)
    summary = {
        "model": type(est).__name__,
        "params": {k: v for k, v in est.get_params().items() if not isinstance(v, dict)},
        "modalities": data.names,
        "n_samples": int(Xs[0].shape[0]),
        "n_features": [int(X.shape[1]) for X in Xs],
        "objective": float(est.objective_[-1]),
        "objective_terms": est.objective_terms_,
        "reconstruction_err": est.reconstruction_err_,
        "relative_error": [float(v) for v in errors["relative_frobenius"].iloc[:-1]],
        "relative_l1_error": [float(v) for v in errors["relative_l1"].iloc[:-1]],
        "reconstruction_correlation": dict(zip(data.names, map(float, corr))),
        "n_iter": est.n_iter_,
        "converged": est.converged_,
        "restart_objectives": [float(v) for v in est.restart_objectives_],
        "module_sizes": [[int(len(idx)) for idx in m] for m in modules],
    }
    if data.truth is not None:
        from ..inference.modules import best_match_jaccard

        summary["planted_module_recovery_jaccard"] = float(best_match_jaccard(modules, data.truth["modules"]).mean())
    if stability_runs:
        from ..inference.nmf_selection import restart_stability

        table = restart_stability(Xs, stability_runs, estimator=est, threshold=_threshold(threshold, len(Xs)),
                                  method=module_rule.value, orientation=orientation.value,
                                  random_state=random_state, n_jobs=n_jobs, **_fit_kwargs(est, data))
        _write_csv(table, out / "stability.csv", index=False)
        summary["restart_reproducibility"] = dict(zip(data.names, table.attrs["reproducibility"]))
    _write_json(summary, out / "summary.json")

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    it = np.arange(len(est.objective_)) * est._check_every
    it[-1] = est.n_iter_
    axes[0].plot(it, est.objective_, marker=".")
    axes[0].set(xlabel="iteration", ylabel="objective F", title=f"{type(est).__name__}: objective (best restart)")
    axes[0].set_yscale("symlog")
    sizes = np.array(summary["module_sizes"])
    bottom = np.zeros(len(modules))
    for I, nm in enumerate(data.names):
        axes[1].bar(np.arange(1, len(modules) + 1), sizes[:, I], bottom=bottom, label=nm)
        bottom += sizes[:, I]
    axes[1].set(xlabel="module", ylabel="features", title="module sizes")
    axes[1].legend()
    _save_figure(fig, out / "fit.png")
    typer.echo(f"{type(est).__name__}: objective {est.objective_[-1]:.6g} after {est.n_iter_} iterations; "
               f"results in {out}")


@app.command("grid")
def grid(
    inputs: Optional[List[Path]] = _INPUTS,
    out: Path = typer.Option(..., "--out", "-o", help="Output folder; grid.jsonl there makes the search resumable."),
    simulate: Optional[Preset] = _SIM,
    model: Model = typer.Option(Model.jcbsnmf, help="jcbsnmf or jsnmnmf (jnmf has no penalties to tune)."),
    values: str = typer.Option("1e-4,1e-3,1e-2,0.1,1,10", help="Comma-separated values tried for every penalty (the paper's grid by default: 6^4 = 1296 settings)."),
    n_components: int = typer.Option(10, "--n-components", "-k", help="K during the grid search (the paper: 10)."),
    k_range: str = typer.Option("", help="Optional comma-separated K values: after the grid, compute the K-selection curves at the best setting."),
    n_restarts: int = typer.Option(1, help="Restarts per setting."),
    max_iter: int = typer.Option(200, help="Iterations per restart."),
    tol: float = typer.Option(1e-5, help="Relative objective decrease that stops a restart."),
    n_jobs: int = typer.Option(1, help="Settings fitted in parallel."),
    dtype: Precision = _DTYPE,
    id_column: Optional[str] = _ID,
    priors: Priors = _PRIORS,
    prior_threshold: float = _PTHR,
    noise_level: float = _NOISE,
    random_state: int = _SEED,
) -> None:
    """The paper's grid search over (lambda, beta, gamma1, gamma2), scored by reconstruction error."""
    from ..inference.nmf_selection import nmf_grid_search, select_n_components

    if model is Model.jnmf:
        raise typer.BadParameter("JNMF has no penalty weights to search; use --model jcbsnmf or jsnmnmf")
    _check_out(out)
    data = _load(inputs, simulate, id_column, priors, prior_threshold, noise_level, random_state)
    vals = [float(v) for v in values.split(",") if v.strip()]
    est = _estimator(model, n_components=n_components, n_restarts=n_restarts, max_iter=max_iter, tol=tol,
                     random_state=random_state, dtype=dtype.value)
    names = [p for p in ("cross_strength", "smoothness", "basis_penalty", "sparsity") if p in est.get_params()]
    out.mkdir(parents=True, exist_ok=True)
    table = nmf_grid_search(data.Xs, cross_adjacency=data.cross, graphs=data.graphs, estimator=est,
                            param_grid={p: vals for p in names}, n_jobs=n_jobs, store=out / "grid.jsonl")
    _write_csv(table, out / "grid.csv", index=False)
    best_params, best = _best_setting(table, names)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot(table["group"], table["reconstruction_error"], ".", ms=3)
    ax.axvline(best["group"], color="C3", lw=0.8)
    ax.set(xlabel="parameter group (lambda outermost)", ylabel="reconstruction error", yscale="log",
           title=f"grid search: best group {best['group']}")
    _save_figure(fig, out / "grid.png")
    if k_range.strip():
        ks = [int(v) for v in k_range.split(",") if v.strip()]
        curves = select_n_components(data.Xs, ks, cross_adjacency=data.cross, graphs=data.graphs,
                                     estimator=est.set_params(**best_params), n_jobs=n_jobs)
        _write_csv(curves, out / "k_selection.csv", index=False)
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
        axes[0].plot(curves["n_components"], curves["reconstruction_error"], marker="o")
        axes[0].set(xlabel="K", ylabel="reconstruction error")
        for I, nm in enumerate(data.names):
            axes[1].plot(curves["n_components"], curves[f"overlap_rate_{I}"], marker="o", label=nm)
            axes[2].plot(curves["n_components"], curves[f"correlation_{I}"], marker="o", label=nm)
        axes[1].set(xlabel="K", ylabel="mean overlap rate")
        axes[2].set(xlabel="K", ylabel="Pearson r (X, WH)")
        axes[2].legend()
        _save_figure(fig, out / "k_selection.png")
    _write_json(best, out / "best.json")
    typer.echo(f"best group {best['group']}: {best_params}; table in {out / 'grid.csv'}")


@app.command("modules")
def modules(
    inputs: Optional[List[Path]] = _INPUTS,
    model_file: Path = typer.Option(..., "--model", "-m", help="Model file written by 'nmf fit' (model.npz)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created if missing)."),
    simulate: Optional[Preset] = _SIM,
    threshold: Optional[str] = _MTHR,
    module_rule: ModuleRule = _RULE,
    orientation: Orientation = _ORIENT,
    n_permutations: int = typer.Option(1000, help="Permutations per module (p = (count + 1) / (B + 1))."),
    id_column: Optional[str] = _ID,
    noise_level: float = _NOISE,
    random_state: int = _SEED,
) -> None:
    """Extract co-modules of a fitted model and test each one by permutation (paper eqs. 10-11).

    The tables must hold the modalities of the fit, in the same order; columns in another
    order are put in the fit's order (as recorded in model.features.json next to the model).
    """
    from ..biology import benjamini_hochberg
    from ..inference.modules import module_significance

    _check_out(out)
    est = _load_model(model_file)
    record = _read_feature_record(model_file)
    data = _load(inputs, simulate, id_column, Priors.none, 0.0, noise_level, random_state)
    if record is not None:
        data = _match_fit(data, record)
    Xs = data.Xs
    if [X.shape[1] for X in Xs] != [H.shape[1] for H in est.coefficients_]:
        raise typer.BadParameter(
            f"the data have {[X.shape[1] for X in Xs]} features per modality but the model was fitted on "
            f"{[H.shape[1] for H in est.coefficients_]}"
        )
    mods = _extract(est, threshold, module_rule, orientation, len(Xs))
    rows = []
    rng = np.random.RandomState(random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i, m in enumerate(mods):
            res = module_significance(m, Xs, n_permutations=n_permutations, random_state=rng, return_details=True)
            rows.append({"module": i + 1, **{f"size_{nm}": int(len(idx)) for nm, idx in zip(data.names, m)},
                         "statistic": res["statistic"], "p_value": res["p_value"]})
    table = pd.DataFrame(rows)
    table["q_value_bh"] = benjamini_hochberg(table["p_value"].to_numpy(dtype=float))
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(table, out / "module_pvalues.csv", index=False)
    _write_csv(_modules_table(mods, data), out / "modules.csv", index=False)
    _write_json({"modules": [{nm: [str(data.frames[I].columns[j]) for j in m[I]] for I, nm in enumerate(data.names)}
                             for m in mods],
                 "p_values": table["p_value"].tolist(), "n_permutations": n_permutations}, out / "modules.json")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.bar(table["module"], -np.log10(table["p_value"]))
    ax.axhline(-np.log10(0.05), color="C3", lw=0.8, label="p = 0.05")
    ax.set(xlabel="module", ylabel="-log10 p", title="co-module permutation test")
    ax.legend()
    _save_figure(fig, out / "module_pvalues.png")
    n_sig = int((table["p_value"] < 0.05).sum())
    typer.echo(f"{len(mods)} modules, {n_sig} with p < 0.05; results in {out}")
