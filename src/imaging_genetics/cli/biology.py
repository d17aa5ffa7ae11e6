"""``imaging-genetics biology``: differential expression, marker ROC, enrichment, pairs.

Every command reads tables (CSV, TSV or Parquet; first column = sample IDs), calls the
same function as the Python API in :mod:`imaging_genetics.biology`, and writes a CSV
table and a PNG figure into ``--out``.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd
import typer

from ..base import atomic_write_bytes

app = typer.Typer(
    help="From modules to biology: differential expression (limma-style moderated t), "
    "marker ROC with DeLong CIs, gene-set enrichment from a local GMT file, and "
    "top SNP–ROI / gene–ROI pair tables.",
    no_args_is_help=True,
)


class DEMethod(str, Enum):
    moderated = "moderated"
    welch = "welch"


class ROCMethod(str, Enum):
    delong = "delong"
    bootstrap = "bootstrap"


class CorrMethod(str, Enum):
    pearson = "pearson"
    spearman = "spearman"


def _fail(message: str) -> None:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=2)


def _read(path: Path, what: str) -> pd.DataFrame:
    """A samples-by-features table; the first column holds the sample IDs."""
    if not path.is_file():
        _fail(f"{what}: file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            sep = "\t" if suffix in (".tsv", ".txt", ".tab") else ","
            frame = pd.read_csv(path, sep=sep, index_col=0)
    except Exception as exc:  # parser errors of any kind
        _fail(f"{what}: could not read {path}: {exc}")
    frame.index = frame.index.map(str)
    return frame


def _split_list(value: Optional[str]) -> Optional[list[str]]:
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def _groups(data: pd.DataFrame, groups: str, group_column: Optional[str]) -> tuple[pd.DataFrame, pd.Series]:
    """Labels from a column of ``data`` or from a separate table aligned by sample ID."""
    path = Path(groups)
    if path.is_file():
        table = _read(path, "--groups")
        if group_column is None:
            if table.shape[1] != 1:
                _fail(
                    f"--groups: {path} has columns {list(table.columns)[:10]}; "
                    "name the diagnosis column with --group-column"
                )
            group_column = str(table.columns[0])
        if group_column not in table.columns:
            _fail(f"--group-column: no column {group_column!r} in {path}; columns: {list(table.columns)[:10]}")
        missing = data.index.difference(table.index)
        if len(missing):
            _fail(f"--groups: {len(missing)} sample(s) have no label in {path}, e.g. {list(missing[:5])}")
        return data, table.loc[data.index, group_column]
    if groups in data.columns:
        return data.drop(columns=[groups]), data[groups]
    _fail(f"--groups: {groups!r} is neither a file nor a column of the data table")
    raise AssertionError  # unreachable


def _levels(value: Optional[str]) -> Optional[tuple[Any, Any]]:
    items = _split_list(value)
    if items is None:
        return None
    if len(items) != 2:
        _fail(f"--levels: expected two comma-separated labels 'case,control', got {value!r}")
    return items[0], items[1]


def _labels_as_str(labels: pd.Series) -> pd.Series:
    return labels.map(lambda v: v if pd.isna(v) else str(v))


def _check_out(out: Path) -> None:
    """Fail before any table is read when --out cannot be a folder."""
    from . import output_folder_problem

    problem = output_folder_problem(out)
    if problem is not None:
        _fail(f"--out: {problem}")


def _save(fig, path: Path) -> None:
    atomic_write_bytes(path, lambda fh: fig.savefig(fh, format="png", dpi=120, bbox_inches="tight"))


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    from ..io.writers import write_table

    write_table(frame, path, index=False)


@app.command("de")
def de(
    expression: Path = typer.Argument(..., help="Expression table: samples x genes, first column sample IDs."),
    groups: str = typer.Option(..., "--groups", "-g", help="Diagnosis: a column of the expression table, or a table file aligned by sample ID."),
    group_column: Optional[str] = typer.Option(None, help="Column of the --groups file holding the labels (default: its only column)."),
    levels: Optional[str] = typer.Option(None, help="Two labels 'case,control' to compare, e.g. 'AD,HC'; other samples are left out."),
    method: DEMethod = typer.Option(DEMethod.moderated, help="moderated: empirical-Bayes moderated t (Smyth 2004); welch: Welch t-test."),
    alpha: float = typer.Option(0.01, help="Keep genes with p < alpha (the JCB-SNMF paper used 0.01)."),
    fdr: Optional[float] = typer.Option(None, help="Keep genes with Benjamini–Hochberg FDR < this instead of p < alpha."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created if missing)."),
) -> None:
    """Screen genes for differential expression between two diagnostic groups.

    Writes differential_expression.csv (sorted by p), selected_genes.txt and a volcano plot
    volcano.png.
    """
    from matplotlib.figure import Figure

    from imaging_genetics.biology import moderated_t_test, welch_t_test

    _check_out(out)
    data = _read(expression, "EXPRESSION")
    data, labels = _groups(data, groups, group_column)
    lv = _levels(levels)
    try:
        if method is DEMethod.moderated:
            res = moderated_t_test(data, _labels_as_str(labels), levels=lv)
        else:
            res = welch_t_test(data, _labels_as_str(labels), levels=lv)
    except (ValueError, TypeError) as exc:
        _fail(str(exc))
    selected = (res["fdr"] < fdr) if fdr is not None else (res["p"] < alpha)
    res["selected"] = selected.to_numpy()
    case, control = res.attrs["levels"]
    # mean_difference is case - control: the table says which is which
    res["case"], res["control"] = case, control
    if lv is None:
        typer.echo(f"comparing case '{case}' with control '{control}' (mean_difference = case - control); "
                   "choose them with --levels case,control", err=True)
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(res.sort_values("p", kind="mergesort"), out / "differential_expression.csv")
    genes = "".join(f"{g}\n" for g in res.loc[selected, "gene"]).encode("utf-8")
    atomic_write_bytes(out / "selected_genes.txt", lambda fh: fh.write(genes))

    fig = Figure(figsize=(5.5, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    logp = -np.log10(np.maximum(res["p"].to_numpy(), 1e-300))
    sel = res["selected"].to_numpy()
    ax.scatter(res["mean_difference"][~sel], logp[~sel], s=6, color="0.6", label="not selected")
    ax.scatter(res["mean_difference"][sel], logp[sel], s=8, color="C3", label=f"selected ({int(sel.sum())})")
    ax.set_xlabel(f"mean difference ({case} − {control})")
    ax.set_ylabel("−log10 p")
    ax.set_title(f"{method.value} t-test, {len(res)} genes")
    ax.legend(fontsize=8)
    _save(fig, out / "volcano.png")
    typer.echo(f"{int(sel.sum())} of {len(res)} genes selected; wrote {out / 'differential_expression.csv'}")


@app.command("roc")
def roc(
    scores: Path = typer.Argument(..., help="Marker table: samples x features, first column sample IDs."),
    groups: str = typer.Option(..., "--groups", "-g", help="Diagnosis: a column of the marker table, or a table file aligned by sample ID."),
    group_column: Optional[str] = typer.Option(None, help="Column of the --groups file holding the labels."),
    positive: Optional[str] = typer.Option(None, help="Label of the diseased group (e.g. AD). Default: the second of two sorted labels."),
    negative: Optional[str] = typer.Option(None, help="Label of the comparison group (e.g. HC). Default: all other samples."),
    features: Optional[str] = typer.Option(None, help="Comma-separated columns to analyse (default all)."),
    method: ROCMethod = typer.Option(ROCMethod.delong, help="CI and p-value by DeLong's variance or by a stratified bootstrap."),
    n_bootstraps: int = typer.Option(2000, help="Bootstrap resamples (method bootstrap)."),
    random_state: int = typer.Option(0, help="Seed for the bootstrap."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created if missing)."),
) -> None:
    """ROC AUC with 95% CI and p-value of each marker (the paper's Table 4 / Fig. 11).

    Writes marker_roc.csv and marker_roc.png.
    """
    from imaging_genetics.biology import marker_roc, plot_marker_roc

    _check_out(out)
    data = _read(scores, "SCORES")
    data, labels = _groups(data, groups, group_column)
    feats = _split_list(features)
    lab = _labels_as_str(labels)
    try:
        table = marker_roc(
            data, lab, positive=positive, negative=negative, features=feats,
            method=method.value, n_bootstraps=n_bootstraps, random_state=random_state,
        )
        fig = plot_marker_roc(data, lab, positive=positive, negative=negative, features=feats)
    except (ValueError, TypeError) as exc:
        _fail(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(table, out / "marker_roc.csv")
    _save(fig, out / "marker_roc.png")
    typer.echo(f"{len(table)} marker(s); wrote {out / 'marker_roc.csv'}")


def _gene_file(path: Path, what: str, column: Optional[str]) -> list[str]:
    if not path.is_file():
        _fail(f"{what}: file not found: {path}")
    if path.suffix.lower() in (".csv", ".tsv"):
        frame = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
        col = column or next((c for c in frame.columns if str(c).lower() in ("gene", "symbol")), None)
        if col is None or col not in frame.columns:
            _fail(f"{what}: {path} needs a 'gene' column (or name one with --gene-column); got {list(frame.columns)[:10]}")
        return [str(g) for g in frame[col].dropna()]
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


@app.command("enrich")
def enrich(
    genes: Path = typer.Argument(..., help="The module's genes: a text file with one gene per line, or a CSV/TSV with a 'gene' column."),
    gmt: Path = typer.Option(..., "--gmt", help="Local GMT gene-set file (name, description, genes; tab-separated)."),
    background: Path = typer.Option(..., "--background", "-b", help="The genes analysed (same formats as GENES)."),
    gene_column: Optional[str] = typer.Option(None, help="Gene column of CSV/TSV inputs (default 'gene' or 'symbol')."),
    min_size: int = typer.Option(5, help="Smallest gene set tested (genes in the background)."),
    max_size: Optional[int] = typer.Option(500, help="Largest gene set tested."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created if missing)."),
) -> None:
    """Hypergeometric over-representation of a module's genes in gene sets, BH-corrected.

    Writes enrichment.csv (sorted by p) and enrichment.png (the 15 most enriched sets).
    """
    from matplotlib.figure import Figure

    from imaging_genetics.biology import enrichment, read_gmt

    _check_out(out)
    module = _gene_file(genes, "GENES", gene_column)
    bg = _gene_file(background, "--background", gene_column)
    try:
        sets = read_gmt(gmt)
        table = enrichment(module, sets, bg, min_size=min_size, max_size=max_size)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        _fail(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(table, out / "enrichment.csv")
    head = table.head(15).iloc[::-1]
    fig = Figure(figsize=(6.5, 0.9 + 0.3 * max(len(head), 1)))
    ax = fig.add_subplot(1, 1, 1)
    ax.barh(range(len(head)), -np.log10(np.maximum(head["p"].to_numpy(), 1e-300)), color="C0")
    ax.set_yticks(range(len(head)))
    ax.set_yticklabels([str(s)[:50] for s in head["gene_set"]], fontsize=7)
    ax.set_xlabel("−log10 p (hypergeometric)")
    ax.set_ylabel("gene set")
    ax.set_title(f"enrichment of {int(table['module_size'].iloc[0])} module genes")
    fig.tight_layout()
    _save(fig, out / "enrichment.png")
    typer.echo(f"{len(table)} gene set(s) tested; wrote {out / 'enrichment.csv'}")


@app.command("pairs")
def pairs(
    table_a: Path = typer.Argument(..., help="First modality (e.g. SNPs): samples x features, first column sample IDs."),
    table_b: Path = typer.Argument(..., help="Second modality (e.g. ROIs), matched to the first by sample ID."),
    names: str = typer.Option("snp,roi", help="Names of the two modalities, comma-separated."),
    features_a: Optional[str] = typer.Option(None, help="Comma-separated columns of the first table to pair (e.g. a module's members); default all."),
    features_b: Optional[str] = typer.Option(None, help="Comma-separated columns of the second table; default all."),
    top: int = typer.Option(20, help="Number of pairs reported."),
    method: CorrMethod = typer.Option(CorrMethod.pearson, help="Correlation: pearson or spearman."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created if missing)."),
) -> None:
    """Top feature pairs between two modalities by |correlation|, with p and FDR (Table 5 / Fig. 12).

    Writes pairs.csv (with the number of samples in both tables, n_samples) and
    pairs_heatmap.png.
    """
    from imaging_genetics.biology import pair_heatmap, top_pairs

    nm = _split_list(names) or []
    if len(nm) != 2:
        _fail(f"--names: expected two comma-separated names, got {names!r}")
    if "n_samples" in nm:  # a column of pairs.csv
        _fail("--names: 'n_samples' names a column of pairs.csv; choose other modality names")
    _check_out(out)
    A = _read(table_a, "TABLE_A")
    B = _read(table_b, "TABLE_B")
    common = A.index.intersection(B.index)
    if len(common) < 3:
        _fail(f"TABLE_A and TABLE_B share {len(common)} sample ID(s); need at least 3")
    from . import report_dropped

    report_dropped([(f"TABLE_A {table_a}", len(A)), (f"TABLE_B {table_b}", len(B))], len(common))
    A, B = A.loc[common], B.loc[common]
    try:
        table = top_pairs(A, B, _split_list(features_a), _split_list(features_b), names=nm, top=top, method=method.value)
        fig = pair_heatmap(A, B, _split_list(features_a), _split_list(features_b), names=nm, top=top, method=method.value)
    except (ValueError, TypeError) as exc:
        _fail(str(exc))
    table["n_samples"] = len(common)  # samples in both tables, the n behind every r and p
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(table, out / "pairs.csv")
    _save(fig, out / "pairs_heatmap.png")
    typer.echo(f"{len(table)} pair(s) from {table.attrs['n_tests']} tested on {len(common)} samples; "
               f"wrote {out / 'pairs.csv'}")
