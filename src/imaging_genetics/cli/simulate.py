"""``imaging-genetics simulate``: write the papers' simulated data sets to disk."""

from __future__ import annotations

import dataclasses
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer

app = typer.Typer(help="Write simulated data sets (the papers' designs) to disk.", no_args_is_help=True)


class TableFormat(str, Enum):
    csv = "csv"
    tsv = "tsv"
    parquet = "parquet"
    plink = "plink"


def _sample_ids(n: int) -> list[str]:
    width = len(str(n))
    return [f"S{i + 1:0{width}d}" for i in range(n)]


def _frame(values: np.ndarray, prefix: str, ids: list[str]) -> pd.DataFrame:
    width = len(str(values.shape[1]))
    cols = [f"{prefix}{j + 1:0{width}d}" for j in range(values.shape[1])]
    frame = pd.DataFrame(values, index=pd.Index(ids, name="IID"), columns=cols)
    return frame


def _write_table(frame: pd.DataFrame, path_stem: Path, fmt: TableFormat) -> Path:
    from ..io.writers import write_table

    suffix = {"csv": ".csv", "tsv": ".tsv", "parquet": ".parquet"}[fmt.value]
    return write_table(frame, path_stem.with_suffix(suffix))


def _as_dict(truth: Any) -> dict:
    if dataclasses.is_dataclass(truth):
        return dataclasses.asdict(truth)
    return dict(truth)


@app.command("cca")
def simulate_cca(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created if missing)."),
    n_samples: int = typer.Option(300, help="Number of subjects n."),
    n_snps: int = typer.Option(500, help="Number of SNPs p."),
    n_rois: int = typer.Option(90, help="Number of brain regions q per modality."),
    correlations: str = typer.Option("0.8,0.5,0.2", help="Population canonical correlation of each task, comma-separated (K = their number)."),
    fmt: TableFormat = typer.Option(TableFormat.csv, "--format", help="csv, tsv or parquet tables; plink writes the genotypes as PLINK .bed/.bim/.fam and imaging as CSV."),
    specific_blocks: int = typer.Option(1, min=0, help="LD blocks of SNPs private to each task, besides the 4 blocks all tasks share; 0 gives every task the same SNP support."),
    random_state: int = typer.Option(0, help="Seed; the same seed writes the same data."),
) -> None:
    """Multi-task sparse CCA data: one SNP matrix against K imaging modalities (MTS2CCA design)."""
    from ..base import save_bundle
    from ..simulate import multitask_cca_data

    try:
        corr = tuple(float(c) for c in correlations.split(",") if c.strip())
    except ValueError:
        raise typer.BadParameter(f"--correlations must be comma-separated numbers, got {correlations!r}")
    X, Ys, truth = multitask_cca_data(n_samples, n_snps, n_rois, correlations=corr, random_state=random_state,
                                      n_specific_blocks=specific_blocks)
    out.mkdir(parents=True, exist_ok=True)
    ids = _sample_ids(n_samples)
    snp = _frame(np.asarray(X), "rs", ids)
    written = []
    if fmt is TableFormat.plink:
        from ..io import write_plink

        geno = np.clip(np.rint(snp.to_numpy() - snp.to_numpy().min(axis=0)), 0, 2)
        snp = pd.DataFrame(geno, index=snp.index, columns=snp.columns)
        written.append(write_plink(out / "genotypes", snp))
        table_fmt = TableFormat.csv
    else:
        written.append(_write_table(snp, out / "snp", fmt))
        table_fmt = fmt
    for k, Y in enumerate(Ys):
        written.append(_write_table(_frame(np.asarray(Y), "roi", ids), out / f"imaging{k + 1}", table_fmt))
    written.append(save_bundle(out / "truth.npz", _as_dict(truth)))
    for path in written:
        typer.echo(str(path))


@app.command("nmf")
def simulate_nmf(
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (created if missing)."),
    preset: str = typer.Option("small", help="'small' (n=100; p=650, 350, 600) or 'large' (n=300; p=2000, 2500, 1000), the JCB-SNMF paper's sets."),
    n_components: int = typer.Option(10, help="Number of co-modules K."),
    noise_level: float = typer.Option(1.0, help="Gaussian noise level l."),
    fmt: TableFormat = typer.Option(TableFormat.csv, "--format", help="csv, tsv or parquet."),
    random_state: int = typer.Option(0, help="Seed; the same seed writes the same data."),
) -> None:
    """Joint NMF data: sMRI, SNP and gene-expression matrices sharing a basis (JCB-SNMF design)."""
    from ..base import save_bundle
    from ..simulate import joint_nmf_data

    presets = {"small": (100, (650, 350, 600)), "large": (300, (2000, 2500, 1000))}
    if preset not in presets:
        raise typer.BadParameter(f"--preset must be one of {sorted(presets)}, got {preset!r}")
    if fmt is TableFormat.plink:
        raise typer.BadParameter("--format plink applies to genotype dosages; joint NMF data are nonnegative tables: use csv, tsv or parquet")
    n, p = presets[preset]
    Xs, truth = joint_nmf_data(n, n_features=p, n_components=n_components, noise_level=noise_level, random_state=random_state)
    out.mkdir(parents=True, exist_ok=True)
    ids = _sample_ids(n)
    written = []
    for name, prefix, X in zip(("smri", "snp", "gene"), ("roi", "rs", "gene"), Xs):
        written.append(_write_table(_frame(np.asarray(X), prefix, ids), out / name, fmt))
    written.append(save_bundle(out / "truth.npz", _as_dict(truth)))
    for path in written:
        typer.echo(str(path))
