"""Study files: a YAML description of the inputs of an analysis, loaded into ``Views``.

Example (paths are relative to the YAML file)::

    modalities:
      - name: snp
        plink: genotypes/adni          # .bed/.bim/.fam prefix
        kind: genotype
        graph: ld                      # "correlation", "ld", or an edge list (below)
      - name: fmri
        file: imaging/fmri.csv         # CSV / TSV / Parquet, one row per sample
        id_column: subject
        kind: imaging
        features: [roi1, roi2, roi3]   # optional: keep only these columns
        graph: {edges: imaging/roi_network.tsv, source: a, target: b, weight: w}
    covariates:
      file: clinical.csv
      id_column: subject
      columns: [age, sex]
    outcomes:
      file: clinical.csv
      id_column: subject
      columns: [mmse]
    cross_adjacency:
      - between: [snp, fmri]
        edges: maps/snp_roi.tsv

Samples are aligned by ID once: the inner join of every file (modalities,
covariates, outcomes), in the order of the first modality. How many samples each
file lost, and why, is logged and kept in ``views.alignment_report``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .plink import plink_paths, read_plink
from .tables import non_numeric_columns, read_table
from .views import Views

__all__ = ["Study", "ModalitySpec", "TableSpec", "EdgesSpec", "CrossSpec", "AnalysesSpec",
           "PreprocessingSpec", "load_study", "read_study_spec"]

log = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EdgesSpec(_Strict):
    """An edge-list file: one row per edge, endpoints named like the features."""

    edges: str
    source: str | None = None
    target: str | None = None
    weight: str | None = None


class ModalitySpec(_Strict):
    """One modality: a table file or a PLINK prefix."""

    name: str
    kind: Literal["genotype", "imaging", "expression", "other"] = "other"
    file: str | None = None
    plink: str | None = None
    id_column: str | int = 0
    features: list[str] | None = None
    graph: Union[Literal["correlation", "ld"], EdgesSpec, None] = None

    @field_validator("graph", mode="before")
    @classmethod
    def _graph_path(cls, value: Any) -> Any:
        # A bare path is an edge list with default columns.
        if isinstance(value, str) and value not in ("correlation", "ld"):
            return {"edges": value}
        return value

    @model_validator(mode="after")
    def _one_source(self) -> "ModalitySpec":
        if (self.file is None) == (self.plink is None):
            raise ValueError(
                f"modality {self.name!r}: give exactly one of 'file' (a CSV/TSV/Parquet table) "
                "or 'plink' (a .bed/.bim/.fam prefix)"
            )
        if self.graph == "ld" and self.plink is None:
            raise ValueError(
                f"modality {self.name!r}: graph 'ld' needs SNP positions, i.e. a 'plink' modality; "
                "use 'correlation' or an edge list"
            )
        return self


class TableSpec(_Strict):
    """Covariates or outcomes: columns of a table file."""

    file: str
    id_column: str | int = 0
    columns: list[str] | None = None


class CrossSpec(EdgesSpec):
    """A cross-modality adjacency between two modalities, from an edge list."""

    between: tuple[str, str]


def _check_parameter_names(family: str, models: list[str], sections: dict[str, Any]) -> None:
    """Every key of ``params`` / ``param_grid`` must be a parameter of at least one listed model.

    A key that some listed models lack is applied to the others only; a key that
    none of them has (e.g. a misspelling) is an error naming the key, the section
    and the valid names, raised when the study file is read, before any fit.
    """
    import difflib
    import importlib

    module = importlib.import_module(f"..{family}", __package__)  # the section is named after the family
    valid: set[str] = set()
    for name in models:
        valid |= set(getattr(module, name)().get_params())
    for key_name, mapping in sections.items():
        for key in mapping or {}:
            if key in valid:
                continue
            close = difflib.get_close_matches(str(key), sorted(valid), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"analyses.{family}.{key_name}: {key!r} is not a parameter of any listed model "
                f"({', '.join(models)}){hint}; valid names: {sorted(valid)}"
            )


class GenotypeQCSpec(_Strict):
    """Genotype QC thresholds (defaults: the JCB-SNMF paper's)."""

    maf: float = 0.05
    hwe_p: float = 1e-6
    call_rate: float = 0.9


class PreprocessingSpec(_Strict):
    """Label-free preprocessing applied once to the aligned data before any analysis.

    Genotype QC and mean imputation use no outcome, so doing them on all samples does
    not leak labels; centring and scaling happen inside every model fit, on
    training rows only. Covariates are regressed out per modality when
    ``residualize`` is true.
    """

    genotype_qc: GenotypeQCSpec | None = GenotypeQCSpec()
    impute: bool = True
    residualize: bool = False


class CCAAnalysisSpec(_Strict):
    """Structured sparse CCA of one genotype modality against imaging modalities."""

    genotype: str
    imaging: list[str] = Field(min_length=1)
    models: list[Literal["MTS2CCA", "MTSCCA", "MTGSCCA", "JCBSCCA", "SCCA", "TCCA"]] = ["MTS2CCA"]
    params: dict[str, Any] = Field(default_factory=dict)
    param_grid: dict[str, list[Any]] | None = None
    outer_cv: int = Field(5, ge=2)
    inner_cv: int = Field(3, ge=2)
    permutations: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _known_parameters(self) -> "CCAAnalysisSpec":
        # a misspelt key would otherwise be dropped and the run go ahead without it
        _check_parameter_names("cca", list(self.models),
                               {"params": self.params, "param_grid": self.param_grid})
        return self


class NMFAnalysisSpec(_Strict):
    """Joint NMF over nonnegative modalities (min–max scaled from the data)."""

    modalities: list[str] = Field(min_length=1)
    models: list[Literal["JCBSNMF", "JSNMNMF", "JNMF"]] = ["JCBSNMF"]
    n_components: int = Field(10, ge=1)
    params: dict[str, Any] = Field(default_factory=dict)
    n_restarts: int = Field(5, ge=1)
    module_rule: Literal["zscore", "mad", "otsu", "topk"] = "zscore"
    module_orientation: Literal["row", "column"] = "row"
    #: T of ``module_rule`` (one value, or one per modality): default 2.0 for zscore
    #: and mad, the members per module for topk (required), none for otsu
    module_threshold: float | list[float] | None = None
    permutations: int = Field(99, ge=0)

    @model_validator(mode="after")
    def _known_parameters(self) -> "NMFAnalysisSpec":
        _check_parameter_names("nmf", list(self.models), {"params": self.params})
        return self

    @model_validator(mode="after")
    def _module_rule_applies(self) -> "NMFAnalysisSpec":
        # checked when the study file is read, not after the fits
        from ..inference.modules import module_thresholds

        try:
            module_thresholds(self.module_threshold, self.module_rule, len(self.modalities))
        except ValueError as exc:
            raise ValueError(f"analyses.nmf: module_threshold / module_rule: {exc}") from None
        return self


class AnalysesSpec(_Strict):
    """What ``imaging-genetics run`` does with the data."""

    cca: CCAAnalysisSpec | None = None
    nmf: NMFAnalysisSpec | None = None


class Study(_Strict):
    """The YAML study file, validated (unknown keys are errors)."""

    modalities: list[ModalitySpec] = Field(min_length=1)
    covariates: TableSpec | None = None
    outcomes: TableSpec | None = None
    cross_adjacency: list[CrossSpec] = Field(default_factory=list)
    preprocessing: PreprocessingSpec = PreprocessingSpec()
    analyses: AnalysesSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if "outcome" in data:
                if "outcomes" in data:
                    raise ValueError("give either 'outcome' or 'outcomes', not both")
                data["outcomes"] = data.pop("outcome")
            mods = data.get("modalities")
            if isinstance(mods, dict):  # {name: {...}} form
                data["modalities"] = [
                    {"name": k, **(v or {})} if isinstance(v, dict) else v for k, v in mods.items()
                ]
        return data

    @model_validator(mode="after")
    def _names(self) -> "Study":
        names = [m.name for m in self.modalities]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"modality names must be unique, {dup} repeated")
        pairs = set()
        for c in self.cross_adjacency:
            for n in c.between:
                if n not in names:
                    raise ValueError(f"cross_adjacency between {list(c.between)}: unknown modality {n!r}; modalities are {names}")
            a, b = c.between
            if a == b or frozenset((a, b)) in pairs:
                raise ValueError(f"cross_adjacency between {[a, b]}: "
                                 + ("links a modality to itself (use its graph)" if a == b else "this pair is given twice"))
            pairs.add(frozenset((a, b)))
        if self.analyses is not None:
            wanted = []
            if self.analyses.cca is not None:
                wanted += [("analyses.cca.genotype", self.analyses.cca.genotype)]
                wanted += [("analyses.cca.imaging", n) for n in self.analyses.cca.imaging]
            if self.analyses.nmf is not None:
                wanted += [("analyses.nmf.modalities", n) for n in self.analyses.nmf.modalities]
            for where, n in wanted:
                if n not in names:
                    raise ValueError(f"{where}: unknown modality {n!r}; modalities are {names}")
        return self


def _format_validation_error(path: Path, exc: ValidationError, raw: dict) -> str:
    mods = raw.get("modalities")
    if isinstance(mods, dict):
        mods = [{"name": k} for k in mods]
    lines = []
    for err in exc.errors():
        # A 'graph' is a rule name or an edge-list mapping: report only the branch that
        # fits the input's type.
        tags = [x for x in err["loc"] if isinstance(x, str) and (x.startswith("literal[") or x == "EdgesSpec")]
        if tags:
            is_map = isinstance(err.get("input"), dict)
            if tags[0].startswith("literal[") and is_map:
                continue
            if tags[0] == "EdgesSpec" and err["type"] == "model_type":
                continue
            err = dict(err, loc=tuple(x for x in err["loc"] if x not in tags))
            if err["type"] == "literal_error":
                err["msg"] += ", an edge-list file path, or {edges: FILE, source:, target:, weight:}"
        where = [str(x) for x in err["loc"]]
        who = ""
        if (len(err["loc"]) > 1 and err["loc"][0] == "modalities" and isinstance(err["loc"][1], int)
                and isinstance(mods, list) and err["loc"][1] < len(mods)
                and isinstance(mods[err["loc"][1]], dict) and "name" in mods[err["loc"][1]]):
            who = f" (modality {mods[err['loc'][1]]['name']!r})"
        if err["type"] == "extra_forbidden":
            parent = ".".join(where[:-1])
            at = f" in {parent}{who}" if parent else " at the top level"
            lines.append(f"unknown key {where[-1]!r}{at}: remove it or check its spelling")
        elif err["type"] == "missing":
            lines.append(f"missing required key {'.'.join(where)!r}{who}")
        else:
            where_s, msg = ".".join(where), err["msg"]
            if err["type"] == "value_error":
                msg = msg.removeprefix("Value error, ")
                if where_s and msg.startswith(where_s + "."):  # the message names its own key
                    lines.append(f"{msg}{who}")
                    continue
            lines.append(f"{where_s or '(top level)'}{who}: {msg}")
    return f"{path}: invalid study file:\n  " + "\n  ".join(lines)


def _resolve(base: Path, rel: str) -> Path:
    p = Path(os.path.expandvars(os.path.expanduser(rel)))
    return p if p.is_absolute() else base / p


def _read_modality(spec: ModalitySpec, base: Path) -> tuple[pd.DataFrame, pd.DataFrame | None, Path]:
    if spec.plink is not None:
        prefix = _resolve(base, spec.plink)
        genotypes, bim = read_plink(prefix, snps=spec.features, return_bim=True)
        return genotypes, bim, plink_paths(prefix)["bed"]
    path = _resolve(base, spec.file)
    frame = read_table(path, id_column=spec.id_column, columns=spec.features, numeric=True)
    return frame, None, path


def read_study_spec(path: str | os.PathLike) -> Study:
    """Read and validate a study YAML file without loading its data.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load_study`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: study file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping with a 'modalities' key at the top level")
    try:
        return Study.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(_format_validation_error(path, exc, raw)) from None


def load_study(path: str | os.PathLike) -> Views:
    """Load a study YAML file into sample-aligned :class:`Views`.

    Parameters
    ----------
    path : str or path
        The YAML file (see the module docstring for its keys). Relative paths inside it
        are relative to the YAML file's folder.

    Returns
    -------
    Views
        Modalities in the order of the file, samples in the order of the first
        modality (restricted to the samples present in every file). Graphs given as
        edge lists are sparse matrices; ``"correlation"``/``"ld"`` stay rules evaluated
        by :meth:`Views.graph` on the (training) samples. ``views.alignment_report``
        is a DataFrame with one row per input: ``file``, ``n_in_file``, ``n_kept``,
        ``n_dropped`` and ``reason``.

    Raises
    ------
    FileNotFoundError
        The YAML or a file it names does not exist.
    ValueError
        Unknown or missing keys, unknown kinds, non-numeric data columns, duplicated IDs,
        or IDs that match nothing across the files; each message names the file.
    """
    path = Path(path)
    study = read_study_spec(path)
    base = path.parent

    # Read every input; sources are (label, file, frame).
    frames: dict[str, pd.DataFrame] = {}
    bims: dict[str, pd.DataFrame] = {}
    sources: list[tuple[str, Path, pd.DataFrame]] = []
    for spec in study.modalities:
        frame, bim, file = _read_modality(spec, base)
        frames[spec.name] = frame
        n_missing = int(np.isnan(frame.to_numpy(dtype=np.float64)).sum())
        if n_missing:
            log.info("load_study: modality %r (%s): %d missing value(s) kept as NaN "
                     "(impute them, e.g. with imaging_genetics.preprocessing.MeanImputer)",
                     spec.name, file, n_missing)
        if bim is not None:
            bims[spec.name] = bim
        sources.append((spec.name, file, frame))
    side: dict[str, pd.DataFrame] = {}
    for label, tspec in (("covariates", study.covariates), ("outcomes", study.outcomes)):
        if tspec is None:
            continue
        file = _resolve(base, tspec.file)
        table = read_table(file, id_column=tspec.id_column, columns=tspec.columns)
        if label == "covariates":
            table = _encode_covariates(table, file)
        else:
            bad = non_numeric_columns(table)
            if bad:
                raise ValueError(
                    f"{file}: outcome column(s) {bad[:5]} are not numeric; encode them as numbers "
                    "or list only numeric columns under outcomes.columns"
                )
        side[label] = table
        sources.append((label, file, table))

    keep = _align(sources)
    report = _report(sources, keep)
    for row in report.itertuples():
        if row.n_dropped:
            log.warning("load_study: %s (%s): dropped %d of %d samples: %s",
                        row.input, row.file, row.n_dropped, row.n_in_file, row.reason)
    log.info("load_study: %s: %d samples aligned across %d input(s)", path, len(keep), len(sources))

    modalities = [(name, frame.loc[keep]) for name, frame in frames.items()]
    graphs: dict[str, Any] = {}
    for spec in study.modalities:
        if spec.graph is None:
            continue
        if isinstance(spec.graph, str):
            graphs[spec.name] = spec.graph
        else:
            graphs[spec.name] = _edges_graph(spec.graph, base, list(frames[spec.name].columns), None, spec.name)
    cross = {}
    for c in study.cross_adjacency:
        a, b = c.between  # pairs were checked with the study file (Study._names)
        cross[(a, b)] = _edges_graph(c, base, list(frames[a].columns), list(frames[b].columns), f"{a}-{b}")
    return Views(
        modalities,
        kinds={s.name: s.kind for s in study.modalities},
        graphs=graphs,
        cross_adjacency=cross,
        covariates=side["covariates"].loc[keep] if "covariates" in side else None,
        outcomes=side["outcomes"].loc[keep] if "outcomes" in side else None,
        feature_info=bims,
        alignment_report=report,
    )


def _encode_covariates(table: pd.DataFrame, file: Path) -> pd.DataFrame:
    """One-hot encode text covariates (first level dropped), logging what was done."""
    bad = non_numeric_columns(table)
    if not bad:
        return table
    for col in bad:
        if table[col].isna().any():
            raise ValueError(
                f"{file}: covariate column {col!r} has {int(table[col].isna().sum())} missing value(s); "
                "fill them in or drop those samples from the file"
            )
        levels = sorted(table[col].astype(str).unique())
        if len(levels) > 20:
            raise ValueError(
                f"{file}: covariate column {col!r} is not numeric and has {len(levels)} distinct "
                "values; encode it as numbers or leave it out of covariates.columns"
            )
        log.info("load_study: %s: text covariate %r one-hot encoded (levels %s, reference %r)",
                 file, col, levels, levels[0])
    return pd.get_dummies(table, columns=bad, drop_first=True, dtype=np.float64)


def _align(sources: list[tuple[str, Path, pd.DataFrame]]) -> pd.Index:
    first_label, first_file, first = sources[0]
    keep = first.index
    for label, file, frame in sources[1:]:
        common = keep.intersection(frame.index, sort=False)
        if len(common) == 0:
            raise ValueError(
                f"{file} ({label}): none of its {len(frame)} IDs (e.g. {frame.index[:3].tolist()}) "
                f"match the samples of {first_file} ({first_label}, e.g. {first.index[:3].tolist()})"
                f"{' left after the earlier files' if len(keep) < len(first) else ''}; check "
                "id_column and the ID format (e.g. leading zeros, FID vs IID)"
            )
        keep = common
    # Order of the first modality.
    return first.index[first.index.isin(keep)]


def _report(sources: list[tuple[str, Path, pd.DataFrame]], keep: pd.Index) -> pd.DataFrame:
    rows = []
    for label, file, frame in sources:
        dropped = frame.index.difference(keep, sort=False)
        reasons = []
        for other_label, _, other in sources:
            if other_label == label:
                continue
            absent = int((~dropped.isin(other.index)).sum())
            if absent:
                reasons.append(f"{absent} not in {other_label}")
        rows.append({
            "input": label,
            "file": str(file),
            "n_in_file": len(frame),
            "n_kept": len(frame) - len(dropped),
            "n_dropped": len(dropped),
            "reason": "; ".join(reasons),
        })
    return pd.DataFrame(rows).set_index("input", drop=False).rename_axis(None)


def _edges_graph(spec: EdgesSpec, base: Path, nodes: list[str], targets: list[str] | None, label: str):
    from ..networks import graph_from_edges

    file = _resolve(base, spec.edges)
    edges = read_table(file, id_column=None, text=True)  # node names as written ("001")
    try:
        return graph_from_edges(
            edges, nodes, targets, source=spec.source, target=spec.target, weight=spec.weight
        )
    except ValueError as exc:
        raise ValueError(f"{file} (graph for {label}): {exc}") from exc
