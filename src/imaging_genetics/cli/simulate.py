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


#: allele frequencies of the simulated PLINK dosages are drawn uniformly from this range
DOSAGE_ALLELE_FREQUENCY = (0.15, 0.5)


def _gaussian_to_dosages(X: np.ndarray, loadings: np.ndarray, random_state: int) -> tuple[np.ndarray, dict]:
    """0/1/2 dosages that are a monotone discretisation of the Gaussian SNP matrix X.

    Column j of :func:`~imaging_genetics.simulate.multitask_cca_data`'s X is
    N(0, s_j^2) with ``s_j^2 = sum_k x_loadings[j, k]^2 + 1`` (unit LD-block noise).
    Each SNP gets an allele frequency f_j (uniform on :data:`DOSAGE_ALLELE_FREQUENCY`,
    from a stream of its own, so X and the imaging data are those of the other
    formats) and its dosage counts the thresholds ``s_j * Phi^-1((1 - f_j)^2)`` and
    ``s_j * Phi^-1(1 - f_j^2)`` that x_j exceeds: Hardy-Weinberg genotype
    frequencies in the population, and a nondecreasing function of x_j, so the SNPs
    outside the true support stay independent of the imaging data and the signs of
    the truth's weights hold. The truth's ``u``, ``v`` and ``correlations`` describe
    the latent X (kept as ``x_latent``); the dosages attenuate the correlations a
    little (``dosage_latent_corr``: the population correlation of each SNP's dosage
    with its latent column, 0.77-0.90 over the frequency range).
    """
    from scipy.stats import norm

    p = X.shape[1]
    rng = np.random.default_rng([int(random_state), 0x6E0])  # independent of the data stream
    freq = rng.uniform(*DOSAGE_ALLELE_FREQUENCY, size=p)
    sd = np.sqrt(np.sum(np.asarray(loadings, dtype=float) ** 2, axis=1) + 1.0)
    lo, hi = norm.ppf((1 - freq) ** 2), norm.ppf(1 - freq ** 2)  # standardised thresholds
    Zs = X / sd
    dosages = (Zs > lo).astype(np.float64) + (Zs > hi)
    # population correlation of the dosage with z ~ N(0, 1): E[d z] = phi(lo) + phi(hi), var d = 2f(1-f)
    corr = (norm.pdf(lo) + norm.pdf(hi)) / np.sqrt(2 * freq * (1 - freq))
    return dosages, {
        "x_latent": X,
        "allele_frequencies": freq,
        "dosage_thresholds": np.column_stack([lo, hi]) * sd[:, None],
        "dosage_latent_corr": corr,
    }


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
    from . import check_output_folder

    check_output_folder(out)
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

        geno, dosage_truth = _gaussian_to_dosages(np.asarray(X), np.asarray(truth["x_loadings"]), random_state)
        truth = {**_as_dict(truth), **dosage_truth}
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
    from . import check_output_folder

    check_output_folder(out)
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
