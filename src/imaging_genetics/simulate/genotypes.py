"""Genotype matrices with realistic linkage disequilibrium.

Two generators behind one function, :func:`simulate_genotypes`:

* ``"coalescent"`` — msprime's coalescent with recombination (optional dependency,
  ``pip install "imaging-genetics[sim]"``): LD decays with distance as in a real
  population. 500 people x ~5,800 SNPs take under a second.
* ``"blocks"`` — a numpy haplotype-block model (no extra dependency): each block
  carries a few founder haplotypes that people inherit with rare mutations, so SNPs
  are in strong LD inside a block and nearly independent across blocks.

Both return additive 0/1/2 dosages and a ``.bim``-like SNP table, and both are
seeded by ``random_state`` (None, an int, a numpy RandomState or Generator).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd

from .._validation import check_positive_int, check_real
from ._common import legacy_random_state

__all__ = ["simulate_genotypes", "coalescent_available"]


def coalescent_available() -> bool:
    """Whether msprime is installed (the ``[sim]`` extra)."""
    return importlib.util.find_spec("msprime") is not None


def _snp_table(chrom: np.ndarray, pos: np.ndarray, rng: np.random.RandomState) -> pd.DataFrame:
    alleles = np.array(["A", "C", "G", "T"])
    a1 = rng.randint(0, 4, size=pos.size)
    a2 = (a1 + rng.randint(1, 4, size=pos.size)) % 4
    width = len(str(pos.size))
    return pd.DataFrame({
        "chrom": chrom.astype(str),
        "snp": [f"rs{i + 1:0{width}d}" for i in range(pos.size)],
        "cm": pos / 1e6,  # 1 cM per Mb, the human genome average
        "pos": pos.astype(np.int64),
        "a1": alleles[a1],
        "a2": alleles[a2],
    })


def _blocks(n: int, p: int, n_chrom: int, maf_min: float, rng: np.random.RandomState):
    cols, chroms, positions = [], [], []
    per_chrom = np.full(n_chrom, p // n_chrom)
    per_chrom[: p % n_chrom] += 1
    for c, m in enumerate(per_chrom):
        pos, made = 10_000, 0
        while made < m:
            size = min(int(rng.randint(3, 25)), m - made)
            n_founders = int(rng.randint(2, 6))
            freq = rng.uniform(maf_min + 0.05, 0.5, size=size)
            founders = (rng.random_sample((n_founders, size)) < freq).astype(np.int8)
            weights = rng.dirichlet(np.ones(n_founders))
            dose = np.zeros((n, size))
            for _ in range(2):  # two haplotypes per person
                pick = rng.choice(n_founders, size=n, p=weights)
                hap = founders[pick] ^ (rng.random_sample((n, size)) < 0.02)
                dose += hap
            freq_obs = dose.mean(axis=0) / 2
            keep = np.minimum(freq_obs, 1 - freq_obs) >= maf_min
            size = int(keep.sum())
            if size == 0:
                continue
            cols.append(dose[:, keep])
            spacing = rng.randint(500, 5_000, size=size)
            positions.append(pos + np.cumsum(spacing))
            pos = int(positions[-1][-1]) + int(rng.randint(50_000, 200_000))  # recombination hot spot
            chroms.append(np.full(size, c + 1))
            made += size
    return np.hstack(cols), np.concatenate(chroms), np.concatenate(positions)


def _coalescent(n: int, p: int, n_chrom: int, maf_min: float, rng: np.random.RandomState):
    import msprime

    per_chrom = np.full(n_chrom, p // n_chrom)
    per_chrom[: p % n_chrom] += 1
    cols, chroms, positions = [], [], []
    for c, m in enumerate(per_chrom):
        # ~6 common SNPs per kb survive the MAF filter at these rates; size the region to match.
        length = max(50_000.0, m * 400.0)
        while True:
            ts = msprime.sim_ancestry(
                samples=n, population_size=10_000, sequence_length=length,
                recombination_rate=1e-8, random_seed=int(rng.randint(1, 2**31 - 1)),
            )
            ts = msprime.sim_mutations(ts, rate=2e-8, random_seed=int(rng.randint(1, 2**31 - 1)))
            H = ts.genotype_matrix()  # (sites, 2n) haplotypes, 0 = ancestral
            if H.size == 0:
                length *= 2
                continue
            biallelic = H.max(axis=1) == 1
            dose = (H[:, 0::2] + H[:, 1::2]).astype(np.float64)
            freq = dose.mean(axis=1) / 2
            keep = biallelic & (np.minimum(freq, 1 - freq) >= maf_min)
            if keep.sum() >= m:
                break
            length *= 2
        site_pos = ts.tables.sites.position
        idx = np.sort(rng.choice(np.flatnonzero(keep), size=m, replace=False))
        cols.append(dose[idx].T)
        positions.append(np.floor(site_pos[idx]).astype(np.int64) + 1)
        chroms.append(np.full(m, c + 1))
    return np.hstack(cols), np.concatenate(chroms), np.concatenate(positions)


def simulate_genotypes(
    n_samples: int,
    n_snps: int,
    *,
    method: str = "auto",
    n_chromosomes: int = 1,
    maf_min: float = 0.05,
    random_state=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate additive genotype dosages with LD.

    Parameters
    ----------
    n_samples : int
        Number of people n.
    n_snps : int
        Number of SNPs p, all with minor allele frequency >= ``maf_min`` in the
        simulated sample.
    method : {"auto", "coalescent", "blocks"}
        "auto" uses the coalescent when msprime is installed, otherwise blocks.
    n_chromosomes : int, default 1
        SNPs are split evenly over this many chromosomes (independent of each other).
    maf_min : float in [0, 0.45], default 0.05
    random_state : None, int, RandomState or Generator
        None (numpy's global random state), an int >= 0 (a seed: the same seed gives
        the same data), or a numpy RandomState or Generator (used as the source of
        randomness and advanced by the draws).

    Returns
    -------
    genotypes : DataFrame of shape (n_samples, n_snps)
        Dosages in {0, 1, 2}; index ``IID`` (S001, ...), columns the SNP ids.
    snps : DataFrame with columns chrom, snp, cm, pos, a1, a2
        One row per SNP, in column order (a ``.bim`` table).
    """
    n = check_positive_int(n_samples, "n_samples", minimum=2)
    p = check_positive_int(n_snps, "n_snps")
    n_chrom = check_positive_int(n_chromosomes, "n_chromosomes")
    if n_chrom > p:
        raise ValueError(f"n_chromosomes ({n_chrom}) cannot exceed n_snps ({p})")
    maf_min = check_real(maf_min, "maf_min", 0.0, 0.45)
    if method not in {"auto", "coalescent", "blocks"}:
        raise ValueError(f"method must be 'auto', 'coalescent' or 'blocks', got {method!r}")
    if method == "coalescent" and not coalescent_available():
        raise ImportError("method='coalescent' needs msprime: pip install \"imaging-genetics[sim]\"")
    rng = legacy_random_state(random_state)
    use_coalescent = method == "coalescent" or (method == "auto" and coalescent_available())
    generate = _coalescent if use_coalescent else _blocks
    dose, chrom, pos = generate(n, p, n_chrom, maf_min, rng)
    snps = _snp_table(chrom, pos, rng)
    width = len(str(n))
    index = pd.Index([f"S{i + 1:0{width}d}" for i in range(n)], name="IID")
    genotypes = pd.DataFrame(dose, index=index, columns=snps["snp"].to_numpy())
    return genotypes, snps
